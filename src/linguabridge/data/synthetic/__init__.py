"""Synthetic text: Marco's three prompt families, planned deterministically, generated resumably, checked.

1. **Plan** (``prompts.plan_requests``): for each language, ``n`` requests spread over the families; each fills its
   family's template (``assets/synthetic/families.yaml``) with slot values (``assets/synthetic/slots/``, extendable
   per language and by the user), keywords (a word list or mined from the user's corpus) or few-shot samples,
   all drawn by a seeded sampler. The same config and seed give the same requests, hence the same keys.
2. **Generate** (``run.run_synthetic``): requests whose key is not yet in the on-disk cache go to the backend
   (``data/generation.py``); each result is committed as it arrives.
3. **Check and write** (``checks.OutputChecker``): in plan order, each cached output is accepted or rejected with a reason: ``empty``,
   ``refusal``, ``mentions_sample``, ``bad_format``, ``too_short``, ``wrong_language``, ``low_language_score``,
   ``exact_duplicate``, ``near_duplicate``. Requests with no result are listed in ``failed.jsonl``.
"""
