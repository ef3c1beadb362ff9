"""Length-bucketed batches: utterances of similar mel length together, so little of a batch is padding."""
from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

# Lengths are jittered by up to ±10 % before sorting, so the batches differ from epoch to epoch (the
# model does not see the same neighbours forever) while padding stays within about 10 % of the batch.
LENGTH_JITTER = 0.1


class BucketBatchSampler:
    """Batches of indices of similar length, by a padded-frame budget and/or a batch size.

    Each epoch: lengths are jittered and sorted, cut into batches greedily (a batch closes when adding
    the next item would exceed ``batch_frames`` padded frames, i.e. longest × count, or ``batch_size``
    items), then the batch order is shuffled. Seeded by ``seed + epoch``: a resumed run sees exactly the
    batches it would have seen. With ``num_replicas`` processes each rank takes every n-th batch; the
    batch list is padded by repeating batches so every rank gets the same count (every item is seen at
    least once per epoch).

    An item longer than ``batch_frames`` on its own still forms a batch of one (it is never dropped).
    """

    def __init__(self, lengths: list[int], *, batch_frames: int | None = None, batch_size: int | None = None,
                 seed: int = 0, shuffle: bool = True, num_replicas: int = 1, rank: int = 0):
        if batch_frames is None and batch_size is None:
            raise ValueError("give batch_frames or batch_size")
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.batch_frames, self.batch_size = batch_frames, batch_size
        self.seed, self.shuffle = seed, shuffle
        self.num_replicas, self.rank = num_replicas, rank
        self.epoch, self.skip = 0, 0
        too_long = int((self.lengths > batch_frames).sum()) if batch_frames else 0
        if too_long:
            log.warning("%d utterance(s) are longer than batch_frames=%d and form batches of one",
                        too_long, batch_frames)

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """Select the epoch's batches; ``skip`` batches of this rank (already trained on) are left out."""
        self.epoch, self.skip = epoch, skip

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        """Every batch of ``epoch`` over all ranks, in order."""
        rng = np.random.default_rng(self.seed + epoch)
        if self.shuffle:
            keys = self.lengths * (1 + rng.uniform(-LENGTH_JITTER, LENGTH_JITTER, len(self.lengths)))
            order = np.argsort(keys, kind="stable")
        else:
            order = np.argsort(self.lengths, kind="stable")
        batches, current, longest = [], [], 0
        for i in order.tolist():
            n = int(self.lengths[i])
            longest_if_added = max(longest, n)
            full = (self.batch_size is not None and len(current) >= self.batch_size) or (
                self.batch_frames is not None and current and longest_if_added * (len(current) + 1) > self.batch_frames)
            if full:
                batches.append(current)
                current, longest_if_added = [], n
            current.append(i)
            longest = longest_if_added
        if current:
            batches.append(current)
        if self.shuffle:
            batches = [batches[k] for k in rng.permutation(len(batches))]
        short = -len(batches) % self.num_replicas
        return batches + [batches[k % len(batches)] for k in range(short)] if batches else []

    def __iter__(self):
        mine = self.epoch_batches(self.epoch)[self.rank::self.num_replicas]
        yield from mine[self.skip:]

    def __len__(self) -> int:
        return max(len(self.epoch_batches(self.epoch)) // self.num_replicas - self.skip, 0)
