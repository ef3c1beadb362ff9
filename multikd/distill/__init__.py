"""Language students by knowledge distillation from the multilingual teacher.

- :mod:`~multikd.distill.recipe`: the ``distill:`` recipe section and :class:`DistillRecipe`.
- :mod:`~multikd.distill.init`: student initialisation from the teacher (layer selection, PCA width reduction).
- :mod:`~multikd.distill.newlang`: merged symbols, new phone/language/speaker rows, unseen-phone report.
- :mod:`~multikd.distill.losses`: ground truth, sequence-level KD, soft targets, feature adapters, MMD/CORAL.
- :mod:`~multikd.distill.targets`: teacher outputs written once as a dataset with confidences.
- :mod:`~multikd.distill.trainer`: the run (``multikd distill``); :mod:`~multikd.distill.bench` the comparison.
"""
