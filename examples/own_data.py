"""Your own data and your own objective: numpy arrays in memory, and a function of the trained
model (here the parameter count, a stand-in for latency measured on your device) optimised
beside accuracy and energy."""

import numpy as np

import evolve

# 300 samples of 16 features, 3 classes: class c has its mean shifted by c
rng = np.random.default_rng(0)
y = np.repeat([0, 1, 2], 100)
x = (rng.normal(size=(300, 16)) + y[:, None]).astype("float32")
data = evolve.from_arrays(x, y, name="blobs")  # the same as --dataset blobs.npz (x, y)


def n_params(model, data):
    """The objective: the model's parameter count (minimised)."""
    return float(sum(p.numel() for p in model.parameters()))


run = evolve.search(
    "hybrid_neuron",
    data,
    objectives=["accuracy", "energy", evolve.UserObjective("n_params", n_params)],
    trials=3,
    epochs=2,
    constraint="nir",  # MLPs of IF/LIF neurons: these samples are feature vectors, not images
    study="own-data",
)
print(run.trials[["number", "state", "accuracy", "energy_uj", "n_params"]].to_string(index=False))
print("front:", [t.number for t in run.front])
