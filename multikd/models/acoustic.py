"""`AcousticModel`: non-autoregressive acoustic model of the FastSpeech 2 / FastPitch family with a jointly
trained aligner. Teacher and student are this one class with different :class:`AcousticConfig`.

Data flow (N = T_text, M = T_mel, C = hidden)::

    phone_ids ─PhoneEmbedding (id + articulatory features)─▶ emb [B, N, C] ─FFT encoder─▶ + cond ─▶ enc
    language_ids, speaker_ids ─ConditionEmbedding─▶ cond [B, C]           (added to enc and to each predictor)
    (emb, mels) ─AlignmentEncoder + beta-binomial prior─▶ soft attention ─MAS─▶ durations     (if not given)
    enc ─predictors─▶ duration / pitch / energy logits [B, N, n_bins]
    enc + embed(phone pitch) + embed(phone energy) ─length regulator (durations)─▶ [B, M, C]
        ─FFT decoder─▶ linear ─▶ mel [B, M, n_mels]

``forward`` teacher-forces durations (given or MAS), phone pitch and energy, and returns the loss with its
named parts (:class:`AcousticOutput`); ``inference`` predicts them and returns a dict. Call ``.eval()``
before ``inference`` (dropout stays active in train mode).
"""
from __future__ import annotations

import torch
from torch import nn
from transformers import PreTrainedModel

from multikd.models.aligner import (AlignmentEncoder, batch_mas, beta_binomial_log_prior, bin_loss,
                                    durations_to_hard_attention, forward_sum_loss)
from multikd.models.config import AcousticConfig
from multikd.models.embedding import ConditionEmbedding, PhoneEmbedding
from multikd.models.layers import FFTStack, lengths_to_mask
from multikd.models.outputs import AcousticOutput
from multikd.models.variance import VarianceAdaptor, binned_loss, length_regulate, phone_average

LOSS_NAMES = ("mel", "duration", "pitch", "energy", "forward_sum", "bin")


class AcousticModel(PreTrainedModel):
    """Phones (+ language, speaker) → log-mel. See the module docstring for the data flow."""

    config_class = AcousticConfig
    base_model_prefix = "acoustic"
    main_input_name = "phone_ids"

    def __init__(self, config: AcousticConfig):
        config.check()
        super().__init__(config)
        c = config
        self.embed = PhoneEmbedding(c)
        self.condition = ConditionEmbedding(c)
        self.encoder = FFTStack(c.hidden, c.encoder_layers, c.heads, c.conv_kernel, c.ff_mult, c.dropout)
        self.aligner = AlignmentEncoder(c.hidden, c.n_mels, c.aligner_hidden, c.aligner_temperature)
        self.variance = VarianceAdaptor(c)
        self.decoder = FFTStack(c.hidden, c.decoder_layers, c.heads, c.conv_kernel, c.ff_mult, c.dropout)
        self.mel_out = nn.Linear(c.hidden, c.n_mels)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        """Xavier for linear/conv weights (keeps activations' scale through the residual stream), zero
        biases, embeddings ~ N(0, 1/hidden) as in the Transformer, LayerNorm identity."""
        if isinstance(module, (nn.Linear, nn.Conv1d)):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=self.config.hidden ** -0.5)
            if module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, FFTStack):
            nn.init.ones_(module.pos_scale)
        elif isinstance(module, PhoneEmbedding):
            # Re-copied from the config: post_init must never leave the feature table anything but exact.
            with torch.no_grad():
                module.phone_features.copy_(torch.tensor(self.config.phone_features, dtype=torch.float32))

    # -- shared pieces ------------------------------------------------------------------------------
    def _encode(self, phone_ids, text_lengths, language_ids, speaker_ids, output_hidden_states):
        """→ (emb [B, N, C], enc [B, N, C] conditioned, cond [B, C], text_mask [B, N], hidden states)."""
        text_mask = lengths_to_mask(text_lengths, phone_ids.shape[1])
        emb = self.embed(phone_ids) * text_mask[..., None].to(self.mel_out.weight.dtype)  # [B, N, C]
        cond = self.condition(language_ids, speaker_ids)  # [B, C]
        enc, enc_states = self.encoder(emb, text_mask, output_hidden_states)
        enc = (enc + cond[:, None, :].to(enc.dtype)) * text_mask[..., None].to(enc.dtype)  # [B, N, C]
        return emb, enc, cond, text_mask, enc_states

    def _decode(self, x, durations, T_mel, output_hidden_states):
        """Phone features ``[B, N, C]`` → (mel [B, M, n_mels], mel_mask [B, M], decoder hidden states)."""
        frames, mel_lengths = length_regulate(x, durations, T_mel)  # [B, M, C]
        mel_mask = lengths_to_mask(mel_lengths, frames.shape[1])
        dec, dec_states = self.decoder(frames, mel_mask, output_hidden_states)
        mel = self.mel_out(dec) * mel_mask[..., None].to(dec.dtype)  # [B, M, n_mels]
        return mel, mel_mask, dec_states

    @staticmethod
    def _check(phone_ids, text_lengths, mels=None, mel_lengths=None, durations=None):
        B, N = phone_ids.shape
        if text_lengths.shape != (B,) or int(text_lengths.min()) < 1 or int(text_lengths.max()) > N:
            raise ValueError(f"text_lengths {text_lengths.tolist()} must be [B={B}] values in 1..{N}")
        if mels is not None:
            M = mels.shape[1]
            if mel_lengths.shape != (B,) or int(mel_lengths.min()) < 1 or int(mel_lengths.max()) > M:
                raise ValueError(f"mel_lengths {mel_lengths.tolist()} must be [B={B}] values in 1..{M}")
        if durations is not None:
            if durations.shape != (B, N):
                raise ValueError(f"durations have shape {tuple(durations.shape)}, expected {(B, N)}")
            sums = durations.sum(-1)
            if not torch.equal(sums, mel_lengths.to(sums.dtype)):
                raise ValueError(f"durations sum to {sums.tolist()} frames but mel_lengths are {mel_lengths.tolist()}")

    # -- training -----------------------------------------------------------------------------------
    def forward(self, phone_ids: torch.Tensor, text_lengths: torch.Tensor, mels: torch.Tensor,
                mel_lengths: torch.Tensor, pitch: torch.Tensor, energy: torch.Tensor, language_ids: torch.Tensor,
                speaker_ids: torch.Tensor, durations: torch.Tensor | None = None,
                output_hidden_states: bool = False) -> AcousticOutput:
        """Teacher-forced pass with losses.

        Args:
            phone_ids: ``[B, N]`` long, padded with 0 (``<pad>``).
            text_lengths: ``[B]`` long.
            mels: ``[B, M, n_mels]`` natural-log mel, time-major; padding may hold anything.
            mel_lengths: ``[B]`` long.
            pitch: ``[B, M]`` per-speaker log-F0 z-score per frame, unvoiced frames exactly 0.
            energy: ``[B, M]`` normalised frame energy.
            language_ids, speaker_ids: ``[B]`` long.
            durations: ``[B, N]`` long frames per phone summing to ``mel_lengths``; None → the aligner's MAS.
            output_hidden_states: also return every encoder/decoder block's output.

        Raises:
            ValueError: inconsistent lengths, durations that do not sum to ``mel_lengths``, or (with MAS)
                an utterance with fewer frames than phones.
        """
        self._check(phone_ids, text_lengths, mels, mel_lengths, durations)
        T_mel = mels.shape[1]
        emb, enc, cond, text_mask, enc_states = self._encode(phone_ids, text_lengths, language_ids, speaker_ids,
                                                             output_hidden_states)
        mel_mask = lengths_to_mask(mel_lengths, T_mel)
        # "Padded with anything": where() (not a multiply) so NaN/inf padding cannot leak in.
        zero = torch.zeros((), device=mels.device, dtype=mels.dtype)
        mels = torch.where(mel_mask[..., None], mels, zero)
        pitch = torch.where(mel_mask, pitch, torch.zeros_like(pitch))
        energy = torch.where(mel_mask, energy, torch.zeros_like(energy))

        zero_loss = torch.zeros((), device=mels.device)
        attn_soft = attn_hard = log_attn = None
        if durations is None:
            log_prior = beta_binomial_log_prior(text_lengths, mel_lengths, phone_ids.shape[1], T_mel,
                                                self.config.prior_scaling)
            log_attn, attn_soft = self.aligner(emb, mels, text_mask, mel_mask, log_prior)  # [B, M, N] each
            durations = batch_mas(log_attn, text_lengths, mel_lengths)  # [B, N]
            attn_hard = durations_to_hard_attention(durations, T_mel)  # [B, M, N]
            loss_fs = forward_sum_loss(log_attn, text_lengths, mel_lengths, self.config.blank_logprob)
            loss_bin = bin_loss(attn_hard, attn_soft)
        else:
            durations = durations.long() * text_mask.long()
            loss_fs = loss_bin = zero_loss

        dur_logits, pitch_logits, energy_logits = self.variance.predict(enc, cond, text_mask)  # [B, N, K] each
        pitch_target = phone_average(pitch, durations, mel_mask & (pitch != 0))  # [B, N], voiced frames only
        energy_target = phone_average(energy, durations, mel_mask)  # [B, N]
        x = self.variance.add_prosody(enc, pitch_target, energy_target, text_mask)
        mel, _, dec_states = self._decode(x, durations, T_mel, output_hidden_states)

        v, c = self.variance, self.config
        n_mel_values = (mel_mask.float().sum() * c.n_mels).clamp_min(1.0)
        losses = {
            "mel": ((mel.float() - mels.float()).abs() * mel_mask[..., None]).sum() / n_mel_values,
            "duration": binned_loss(dur_logits, v.log_duration(durations), text_mask, v.duration_bins,
                                    c.value_loss_weight),
            "pitch": binned_loss(pitch_logits, pitch_target, text_mask, v.pitch_bins, c.value_loss_weight),
            "energy": binned_loss(energy_logits, energy_target, text_mask, v.energy_bins, c.value_loss_weight),
            "forward_sum": loss_fs,
            "bin": loss_bin,
        }
        weights = {"mel": c.mel_loss_weight, "duration": c.duration_loss_weight, "pitch": c.pitch_loss_weight,
                   "energy": c.energy_loss_weight, "forward_sum": c.forward_sum_loss_weight,
                   "bin": c.bin_loss_weight}
        loss = sum(weights[k] * losses[k] for k in LOSS_NAMES)
        return AcousticOutput(
            loss=loss, losses=losses, mel=mel,
            duration_logits=dur_logits, pitch_logits=pitch_logits, energy_logits=energy_logits,
            durations=durations, log_duration=v.duration_bins.expected(dur_logits) * text_mask,
            pitch=v.pitch_bins.expected(pitch_logits) * text_mask,
            energy=v.energy_bins.expected(energy_logits) * text_mask,
            pitch_target=pitch_target, energy_target=energy_target,
            attn_soft=attn_soft, attn_hard=attn_hard, attn_logprob=log_attn,
            encoder_hidden_states=enc_states, decoder_hidden_states=dec_states,
            text_mask=text_mask, mel_mask=mel_mask,
        )

    # -- synthesis ----------------------------------------------------------------------------------
    @torch.no_grad()
    def inference(self, phone_ids: torch.Tensor, text_lengths: torch.Tensor, language_ids: torch.Tensor,
                  speaker_ids: torch.Tensor, speed: float = 1.0, output_hidden_states: bool = False) -> dict:
        """Predict durations, pitch and energy, then the mel.

        Args:
            phone_ids ``[B, N]``, text_lengths ``[B]``, language_ids ``[B]``, speaker_ids ``[B]``: as in forward.
            speed: speaking-rate factor; 2.0 halves every duration.

        Returns:
            dict with ``mel [B, M, n_mels]`` (0 past each item's length), ``mel_lengths [B]``,
            ``durations [B, N]`` long, ``pitch``/``energy`` ``[B, N]`` (predicted expected values),
            ``duration_logits``/``pitch_logits``/``energy_logits`` ``[B, N, K]``, ``text_mask``,
            ``mel_mask``, and ``encoder_hidden_states``/``decoder_hidden_states`` when asked.
        """
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self._check(phone_ids, text_lengths)
        _, enc, cond, text_mask, enc_states = self._encode(phone_ids, text_lengths, language_ids, speaker_ids,
                                                           output_hidden_states)
        v = self.variance
        dur_logits, pitch_logits, energy_logits = v.predict(enc, cond, text_mask)
        durations = v.durations_from_logits(dur_logits, text_mask, speed)  # [B, N]
        pitch = v.pitch_bins.expected(pitch_logits) * text_mask  # [B, N]
        energy = v.energy_bins.expected(energy_logits) * text_mask
        x = v.add_prosody(enc, pitch, energy, text_mask)
        mel, mel_mask, dec_states = self._decode(x, durations, None, output_hidden_states)
        result = {"mel": mel, "mel_lengths": durations.sum(-1), "durations": durations, "pitch": pitch,
                  "energy": energy, "duration_logits": dur_logits, "pitch_logits": pitch_logits,
                  "energy_logits": energy_logits, "text_mask": text_mask, "mel_mask": mel_mask}
        if output_hidden_states:
            result["encoder_hidden_states"] = enc_states
            result["decoder_hidden_states"] = dec_states
        return result

