"""A 3-trial search on digits from Python: the front, the best model, a prediction."""

import evolve

run = evolve.search("hybrid_neuron", "digits", trials=3, epochs=1, study="quickstart")
for trial in run.front:
    print(trial.number, {k: round(v, 4) for k, v in trial.values.items()})
best = run.best(pick="accuracy")
model = run.model(best.number)  # a torch nn.Module in eval mode
test = run.data().test
accuracy = (model(test.x).argmax(1) == test.y).float().mean().item()
print(f"trial {best.number}: test accuracy {accuracy:.3f}")
