"""Training one candidate: the surrogate-gradient trainer, distillation, ANN teachers and the
neuron selector."""
