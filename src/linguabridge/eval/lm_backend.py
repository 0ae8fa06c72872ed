"""linguabridge's scorer (``eval/scorer.py``) as an lm-eval model: ``--model linguabridge``.

Tasks keep lm-eval's prompts, filters and metrics; lm-eval's ``TemplateLM`` tokenizes (context, continuation)
pairs exactly as HFLM does, and this class scores them. lm-eval 0.4 finds models in its own registry only (it
loads no entry points), so the class registers itself when this module is imported, and
``python -m linguabridge.eval.lm_backend ARGS`` runs lm-eval's command line with it registered:

  python -m linguabridge.eval.lm_backend run --model linguabridge --model_args pretrained=DIR --tasks xcopa_id
"""

from __future__ import annotations

from lm_eval import utils as lm_utils
from lm_eval.api.model import TemplateLM
from lm_eval.api.registry import register_model
from lm_eval.models.utils import (
    _add_special_kwargs,
    handle_stop_sequences,
    has_bos_prefix,
    normalize_gen_kwargs,
    postprocess_generated_text,
    resolve_max_length,
)

from linguabridge.eval.scorer import Scorer

DEFAULT_BATCH_TOKENS = 8192  # tokens per forward (prefixes + continuations, padded); CPU-friendly


@register_model("linguabridge")
class LinguabridgeLM(TemplateLM):
    """``pretrained``: a model object or a directory/hub name; ``tokenizer``: an object or a name (default: the
    model's); ``max_batch_tokens``: the token budget per forward; ``device`` and ``dtype`` for loading."""

    def __init__(
        self,
        pretrained,
        tokenizer=None,
        max_batch_tokens: int = DEFAULT_BATCH_TOKENS,
        device: str | None = None,
        dtype: str = "float32",
        max_length: int | None = None,
        max_gen_toks: int = 256,
        **_ignored,  # lm-eval's CLI passes batch_size and friends to every model
    ):
        super().__init__()
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if isinstance(pretrained, str):
            model = AutoModelForCausalLM.from_pretrained(pretrained, dtype=getattr(torch, dtype))
            tokenizer = tokenizer or pretrained
        else:
            model = pretrained
        if tokenizer is None or isinstance(tokenizer, str):
            tokenizer = AutoTokenizer.from_pretrained(tokenizer or model.name_or_path)
        self.tokenizer = tokenizer
        self.model = model.to(device).eval()
        self._max_length = max_length or resolve_max_length(model.config, tokenizer)
        self._max_gen_toks = int(max_gen_toks)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.scorer = Scorer(self.model, self._max_length, int(max_batch_tokens), pad)

    # what TemplateLM needs, the same values as HFLM's
    @property
    def eot_token_id(self) -> int:
        return self.tokenizer.eos_token_id

    @property
    def prefix_token_id(self) -> int:
        bos = self.tokenizer.bos_token_id
        return bos if bos is not None else self.tokenizer.eos_token_id

    @property
    def max_length(self) -> int:
        return self._max_length

    def tok_encode(self, string: str, add_special_tokens: bool | None = None, **kwargs) -> list[int]:
        special = _add_special_kwargs(add_special_tokens, None)
        if add_special_tokens is None and has_bos_prefix(string, self.tokenizer.decode(self.prefix_token_id)):
            special["add_special_tokens"] = False
        return self.tokenizer.encode(string, **special)

    def _loglikelihood_tokens(
        self, requests, disable_tqdm: bool = False, **kwargs
    ) -> list[tuple[float, bool]]:
        scored = self.scorer.loglikelihood([(ctx, cont) for _, ctx, cont in requests])
        out = []
        for (pair, _, _), s in zip(requests, scored, strict=True):
            out.append((s.logprob, s.is_greedy))
            if pair is not None:
                self.cache_hook.add_partial("loglikelihood", pair, (s.logprob, s.is_greedy))
        return out

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False) -> list[float]:
        """Whole-document log-likelihoods in disjoint ``max_length`` windows (HFLM's windows)."""
        windows, owner = [], []
        for i, (string,) in enumerate(req.args for req in requests):
            rolling = lm_utils.get_rolling_token_windows(
                token_list=self.tok_encode(string),
                prefix_token=self.prefix_token_id,
                max_seq_len=self.max_length,
                context_len=1,
            )
            for window in map(lm_utils.make_disjoint_window, rolling):
                windows.append(window)
                owner.append(i)
        totals = [0.0] * len(requests)
        for i, s in zip(owner, self.scorer.loglikelihood(windows), strict=True):
            totals[i] += s.logprob
        for req, total in zip(requests, totals, strict=True):
            self.cache_hook.add_partial("loglikelihood_rolling", req.args, total)
        return totals

    def _stop_check(self, until: list[str]):
        def stopped(tokens: list[int]) -> bool:
            text = self.tokenizer.decode(tokens, skip_special_tokens=False)
            return any(term and term in text for term in until)

        return stopped

    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        """Greedy generation to the first stop sequence (lm-eval's ``until`` plus the EOS text)."""
        eos = self.tokenizer.decode(self.eot_token_id, skip_special_tokens=False)
        by_kwargs: dict[str, list[int]] = {}
        for i, req in enumerate(requests):
            by_kwargs.setdefault(repr(sorted(req.args[1].items())), []).append(i)
        out: list[str] = [""] * len(requests)
        for idx in by_kwargs.values():
            kwargs = normalize_gen_kwargs(dict(requests[idx[0]].args[1]), self._max_gen_toks)
            if kwargs.get("do_sample") or kwargs.get("temperature", 0.0) > 0:
                raise ValueError("the linguabridge backend decodes greedily only (do_sample=False)")
            until = handle_stop_sequences(kwargs.pop("until", None), eos=eos)
            max_new = kwargs.pop("max_gen_toks")
            contexts = [self.tok_encode(requests[i].args[0])[-(self.max_length - max_new) :] for i in idx]

            generated = self.scorer.greedy(contexts, max_new, self._stop_check(until), self.eot_token_id)
            for i, tokens in zip(idx, generated, strict=True):
                text = postprocess_generated_text(
                    self.tokenizer.decode(tokens, skip_special_tokens=True), until, None
                )
                out[i] = text
                self.cache_hook.add_partial("generate_until", requests[i].args, text)
        return out


if __name__ == "__main__":
    from lm_eval.__main__ import cli_evaluate

    cli_evaluate()
