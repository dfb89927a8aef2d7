"""Models out and in: TorchScript, ONNX and NIR export, NIR import, prediction."""
