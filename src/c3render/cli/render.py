"""One command per job type, for people: ``c3-render tts "Hello" -o hello.mp3``,
``transcribe talk.mp3 --srt``, ``portrait face.jpg voice.wav -o talk.mp4``,
``analyze photo.jpg``. Each submits, follows the job live (``watch``), then saves or
prints the result; ``--json`` prints the result document only."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from c3render.cli.client import Client
from c3render.cli.output import console, exit_code, print_json
from c3render.cli.watch import Watcher
from c3render.job import JobType

AddOptions = Callable[[argparse.ArgumentParser], None]


def _run(
    args: argparse.Namespace, job_type: JobType, fields: dict[str, Any]
) -> tuple[Client, dict[str, Any]]:
    client = Client(args.url, args.key)
    fields = {**fields, "priority": args.priority}
    job_id = client.submit(job_type, {k: v for k, v in fields.items() if v is not None})
    with Watcher(job_id, quiet=args.json) as watcher:
        result = client.follow(job_id, watcher.update)
    return client, result


def _deliver(client: Client, args: argparse.Namespace, result: dict[str, Any]) -> int:
    """Print or save a finished job's result; the exit code."""
    if args.json:
        print_json(result)
    elif result.get("status") != "success":
        console.print(f"[red]{result.get('status')}:[/red] {result.get('error', '')}",
                      highlight=False)
    elif result.get("result_url") and args.output:
        client.download(result["result_url"], args.output)
        console.print(f"saved {args.output}", highlight=False)
    elif result.get("result_url"):
        print(result["result_url"])
    elif "text" in result:
        print(result["text"])
    return exit_code(str(result.get("status")))


def cmd_tts(args: argparse.Namespace) -> int:
    """Speak a text and save the audio."""
    fmt = args.format or (args.output.suffix.lstrip(".") if args.output else None)
    if fmt not in (None, "mp3", "wav", "ogg"):
        fmt = None
    fields = {"text": args.text, "voice": args.voice, "format": fmt}
    client, result = _run(args, JobType.CSM, fields)
    return _deliver(client, args, result)


def cmd_transcribe(args: argparse.Namespace) -> int:
    """Transcribe a recording; print the text (or subtitles)."""
    fields = {"audio_url": args.audio, "model": args.model, "language": args.language,
              "task": "translate" if args.translate else None}
    client, result = _run(args, JobType.WHISPER, fields)
    wanted = "srt" if args.srt else "vtt" if args.vtt else None
    if wanted and result.get("status") == "success" and not args.json:
        body = client.subtitles(result["id"], wanted)
        if args.output:
            args.output.write_text(body, encoding="utf-8")
            console.print(f"saved {args.output}", highlight=False)
        else:
            print(body, end="")
        return 0
    if args.output and "text" in result and not args.json:
        args.output.write_text(result["text"], encoding="utf-8")
        console.print(f"saved {args.output}", highlight=False)
        return 0
    return _deliver(client, args, result)


def cmd_portrait(args: argparse.Namespace) -> int:
    """Animate a portrait photo with speech; save the video."""
    fields = {"image_url": args.image, "audio_url": args.audio}
    client, result = _run(args, JobType.PORTRAIT, fields)
    return _deliver(client, args, result)


def cmd_analyze(args: argparse.Namespace) -> int:
    """Describe an image; print the text."""
    client, result = _run(args, JobType.ANALYZE, {"image_url": args.image, "prompt": args.prompt})
    return _deliver(client, args, result)


def add_commands(commands: Any, client_options: AddOptions) -> None:
    """Add tts, transcribe, portrait and analyze to the ``c3-render`` parser."""
    tts = commands.add_parser("tts", help='speak a text: c3-render tts "Hello" -o hello.mp3')
    tts.add_argument("text")
    tts.add_argument("--voice", help="random (default), conversational_a, conversational_b, or "
                     "a named voice of the server (GET /voices)")
    tts.add_argument("--format", choices=["mp3", "wav", "ogg"],
                     help="audio format (default: from -o's suffix, else mp3)")
    tts.set_defaults(handler=cmd_tts)

    stt = commands.add_parser("transcribe", help="speech to text: c3-render transcribe talk.mp3")
    stt.add_argument("audio", help="a local file or a URL")
    stt.add_argument("--model", help="tiny, base, small, medium (default), large-v3, ...")
    stt.add_argument("--language", help="language code; default: detect")
    stt.add_argument("--translate", action="store_true", help="translate to English")
    subs = stt.add_mutually_exclusive_group()
    subs.add_argument("--srt", action="store_true", help="print SRT subtitles")
    subs.add_argument("--vtt", action="store_true", help="print WebVTT subtitles")
    stt.set_defaults(handler=cmd_transcribe)

    portrait = commands.add_parser(
        "portrait", help="talking portrait: c3-render portrait face.jpg voice.wav -o talk.mp4"
    )
    portrait.add_argument("image")
    portrait.add_argument("audio")
    portrait.set_defaults(handler=cmd_portrait)

    analyze = commands.add_parser("analyze", help="describe an image: c3-render analyze photo.jpg")
    analyze.add_argument("image")
    analyze.add_argument("--prompt", help="a question about the image (with a VLM engine)")
    analyze.set_defaults(handler=cmd_analyze)

    for command in (tts, stt, portrait, analyze):
        command.add_argument("-o", "--output", type=Path, help="save the result here")
        command.add_argument("--priority", choices=["high", "normal", "low"],
                             help="among this API key's queued jobs (default normal)")
        command.add_argument("--json", action="store_true",
                             help="print the result document as JSON (no progress display)")
        client_options(command)
