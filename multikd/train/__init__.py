"""Training of acoustic models: prepared corpora → batches → accelerate loop → exported model folder.

One concept per module: ``config`` (recipe sections), ``data`` (dataset, normalisation, collate),
``sampler`` (length buckets), ``checkpoints`` (atomic save, resume), ``loop`` (the training loop),
``samples``/``plots`` (validation audio and figures), ``runinfo`` (what a run records), ``align``
(duration export with a trained aligner). Heavy imports stay in the modules, so importing this package
is cheap.
"""
