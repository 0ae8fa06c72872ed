"""``linguabridge chat MODEL``: a quick look at a chat checkpoint (one-shot with --prompt, else interactive)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from linguabridge.cli.common import out


def chat_cmd(
    model: Annotated[
        Path, typer.Argument(help="A checkpoint folder with a chat template, e.g. runs/demo/dpo/model.")
    ],
    prompt: Annotated[
        str | None,
        typer.Option("--prompt", "-p", help="Answer this one message and exit (else interactive)."),
    ] = None,
    system: Annotated[str | None, typer.Option(help="System message (default: the template's).")] = None,
    max_new_tokens: Annotated[int, typer.Option(help="Longest answer, in tokens.")] = 256,
    temperature: Annotated[float, typer.Option(help="0 = greedy; above 0 samples.")] = 0.0,
    top_p: Annotated[float, typer.Option(help="Nucleus sampling (with --temperature > 0).")] = 1.0,
    show_stop: Annotated[bool, typer.Option(help="Say whether each answer ended at <|im_end|>.")] = False,
) -> None:
    """Chat with a model through its saved chat template; answers stop at the end-of-turn token (<|im_end|>).

    Interactive mode keeps the conversation; type /reset to start over and /exit (or Ctrl-D) to quit.

    Example: linguabridge chat runs/demo/dpo/model --prompt "Xin chào! Bạn khỏe không?"
    """
    from linguabridge.chat import generate_replies, load_chat_model

    mdl, tok = load_chat_model(model)
    kwargs = dict(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p)
    history: list[dict] = [{"role": "system", "content": system}] if system else []

    def answer(text: str) -> None:
        history.append({"role": "user", "content": text})
        reply = generate_replies(mdl, tok, history, **kwargs)[0]
        history.append({"role": "assistant", "content": reply.text})
        print(reply.text)
        if show_stop:
            out.print(
                f"[dim]({reply.new_tokens} tokens, "
                f"{'stopped at end of turn' if reply.finished else 'hit max_new_tokens'})[/dim]"
            )

    if prompt is not None:
        answer(prompt)
        return
    out.print("[dim]/reset starts over, /exit quits[/dim]")
    while True:
        try:
            text = input("> ").strip()
        except EOFError:
            break
        if text == "/exit":
            break
        if text == "/reset":
            del history[1 if system else 0 :]
            continue
        if text:
            answer(text)
