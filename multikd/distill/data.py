"""Training items of a distillation run: ground truth, teacher targets, or both, padded into batches.

- finetune / scratch: the target corpus as :class:`~multikd.train.data.TTSDataset` gives it.
- distill: every *kept* teacher-target row (:mod:`multikd.distill.targets`). An ``audio`` row carries the
  recording's mel, pitch and energy (``has_gt``) plus the teacher's; a ``text`` row has only the teacher's:
  its mel, and its phone pitch/energy repeated over the phone's frames (the model averages frame values
  per phone, which gives those values back). Audio rows dropped by the confidence filter are not trained on.
"""
from __future__ import annotations

import numpy as np
import torch

from multikd.train.data import collate

TEACHER_KEYS = ("t_log_duration", "t_pitch", "t_energy")
LOGIT_KEYS = ("t_duration_logits", "t_pitch_logits", "t_energy_logits")


class TargetDataset(torch.utils.data.Dataset):
    """Kept teacher-target rows joined with the ground truth of the same utterances.

    Args:
        targets: :func:`multikd.distill.targets.load_targets` output.
        gt: the target-language :class:`TTSDataset` (student symbols and statistics).
        symbols: the student's table; norm: the student's statistics (language/speaker ids).
    """

    def __init__(self, targets, gt, symbols, norm):
        self.targets, self.gt = targets, gt
        gt_index = {uid: i for i, uid in enumerate(gt.ids)}
        self.gt_rows = [gt_index.get(uid) if src == "audio" else None
                        for uid, src in zip(targets["id"], targets["source"])]
        self.phone_ids = [symbols.encode(list(p)) for p in targets["phones"]]
        self.language_ids = [norm.languages.index(x) for x in targets["language"]]
        self.speaker_ids = [norm.speakers.index(x) for x in targets["speaker"]]
        self.lengths = [int(np.sum(d)) for d in targets["durations"]]
        self.ids = list(targets["id"])

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        row = self.targets[i]
        durations = torch.as_tensor(np.asarray(row["durations"]), dtype=torch.long)  # [N]
        t_mel = torch.as_tensor(np.asarray(row["mel"], dtype=np.float32))  # [M, n_mels]
        item = {"id": self.ids[i], "phone_ids": torch.tensor(self.phone_ids[i]), "durations": durations,
                "t_mel": t_mel, "language_id": self.language_ids[i], "speaker_id": self.speaker_ids[i]}
        for k in TEACHER_KEYS:
            item[k] = torch.as_tensor(np.asarray(row[k], dtype=np.float32))
        for k in LOGIT_KEYS:
            item[k] = torch.as_tensor(np.asarray(row[k], dtype=np.float32))
        g = self.gt_rows[i]
        if g is not None:
            gt = self.gt[g]
            item.update(mel=gt["mel"], pitch=gt["pitch"], energy=gt["energy"], has_gt=True)
        else:
            item.update(mel=t_mel, pitch=torch.repeat_interleave(item["t_pitch"], durations),
                        energy=torch.repeat_interleave(item["t_energy"], durations), has_gt=False)
        return item


def collate_targets(items: list[dict]) -> dict:
    """:func:`multikd.train.data.collate` plus ``durations [B, N]``, ``t_mel [B, M, n_mels]``,
    ``t_log_duration``/``t_pitch``/``t_energy [B, N]``, the three ``t_*_logits [B, N, K]`` and
    ``has_gt [B]`` (all zero-padded)."""
    out = collate(items)
    b, n, m = len(items), out["phone_ids"].shape[1], out["mels"].shape[1]
    out["has_gt"] = torch.tensor([x["has_gt"] for x in items])
    out["durations"] = torch.zeros(b, n, dtype=torch.long)
    out["t_mel"] = torch.zeros(b, m, items[0]["t_mel"].shape[1])
    for k in TEACHER_KEYS:
        out[k] = torch.zeros(b, n)
    for k in LOGIT_KEYS:
        out[k] = torch.zeros(b, n, items[0][k].shape[1])
    for i, x in enumerate(items):
        k_n = len(x["phone_ids"])
        out["durations"][i, :k_n] = x["durations"]
        out["t_mel"][i, :len(x["t_mel"])] = x["t_mel"]
        for k in TEACHER_KEYS + LOGIT_KEYS:
            out[k][i, :k_n] = x[k]
    return out
