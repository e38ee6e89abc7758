"""Qualified names that mean more than a shape: seeds, random draws, model classes.

The interpreter consults these to record facts (a seed call, a draw on torch's
generator) and to recognise user models, whatever import spelling reached them.
"""

from __future__ import annotations

from shapecheck.analysis.values import ClassValue, QName

TORCH_SEEDS = frozenset(
    {
        "torch.manual_seed",
        "torch.cuda.manual_seed",
        "torch.cuda.manual_seed_all",
        "lightning.seed_everything",
        "lightning.pytorch.seed_everything",
        "pytorch_lightning.seed_everything",
        "lightning.fabric.seed_everything",
        "lightning_fabric.seed_everything",
        "transformers.set_seed",
        "accelerate.utils.set_seed",
    }
)


NUMPY_SEEDS = frozenset(
    {"numpy.random.seed", "numpy.random.default_rng", "numpy.random.RandomState"}
)


# Calls that run functions a configuration file names (hyperpyyaml's `!apply:` tags,
# Hydra's `_target_`): one of them may seed torch (speechbrain recipes seed this way),
# which the file does not show, so they count as a seed of unknown library.
CONFIG_CALLERS = frozenset(
    {
        "hyperpyyaml.load_hyperpyyaml",
        "hyperpyyaml.core.load_hyperpyyaml",
        "hydra.utils.instantiate",
        "hydra.utils.call",
    }
)


TORCH_RANDOM = frozenset(
    {
        "torch.randn",
        "torch.rand",
        "torch.randint",
        "torch.randperm",
        "torch.normal",
        "torch.bernoulli",
        "torch.multinomial",
        "torch.randn_like",
        "torch.rand_like",
        "torch.utils.data.random_split",
    }
)


MODULE_BASES = ("torch.nn.", "pytorch_lightning.", "lightning.")


WRAPPERS = frozenset(
    {
        "DataParallel",
        "DistributedDataParallel",
        "Parameter",
        "ParameterList",
        "ParameterDict",
        "ModuleList",
        "ModuleDict",
    }
)


# torch.nn modules that hold other modules' parameters and none of their own.
CONTAINERS = WRAPPERS | {"Sequential"}


def is_module_class(cls: ClassValue) -> bool:
    for klass in cls.mro():
        for base in klass.bases:
            if (
                isinstance(base, QName)
                and base.name.startswith(MODULE_BASES)
                and (base.name.endswith(("Module", "LightningModule")))
            ):
                return True
    return False
