"""Export for devices: ONNX graphs of the acoustic model and vocoder plus one ``voice.json``.

``graphs`` (torch → ONNX), ``voice`` (the voice folder, ``multikd export``), ``runtime`` (speaking with
onnxruntime and the front end, no torch), ``bench`` (``multikd bench export``). Nothing is imported here,
so ``import multikd.export.runtime`` stays free of torch.
"""
