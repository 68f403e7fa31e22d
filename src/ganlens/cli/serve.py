"""`ganlens serve`: the web UI on a local port."""

from __future__ import annotations

from pathlib import Path

import click

from .common import CONTEXT, device_option, model_option

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@click.command(context_settings=CONTEXT)
@model_option
@click.option("--directions", "directions_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="Folder of direction files (.npz) to offer as sliders beside the shipped ones.")
@click.option("--sefa", "sefa_num", default=5, show_default=True, type=click.IntRange(0, 64),
              help="SeFa directions to offer (auto-labelled in the background); 0 for none.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to bind. The default is reachable from this machine only.")
@click.option("--port", default=7860, show_default=True, type=click.IntRange(1, 65535))
@click.option("--max-upload-mb", default=10.0, show_default=True, type=click.FloatRange(0.01, 200),
              help="Largest image file accepted.")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(0, 256),
              help="torch CPU threads (0: torch's default, one per core). One keeps a slider move steady when "
                   "the cores are busy with other work; raise it for large models on an idle machine.")
@click.option("--scorer", default="auto", show_default=True,
              help="Predictor (name, file, or module:function) whose read-out the page shows and Climb raises; "
                   "'auto': the one bundled for the model, if any; 'none'.")
@click.option("--guard", default="auto", show_default=True,
              help="Predictor (name or file) under which Climb also holds the ticked attributes; 'auto': the "
                   "model's '-independent' predictor if bundled (trained without the domain's correlations); 'none'.")
@click.option("--session-memory-mb", default=256.0, show_default=True, type=click.FloatRange(1, 1e6),
              help="Memory the tabs' sessions may hold together (measured; about 40 kB per tab on synthfaces64). "
                   "Beyond it the least recently used idle tabs are dropped; their pages restore them unseen.")
@click.option("--session-idle-min", default=60.0, show_default=True, type=click.FloatRange(0.1, 1e6),
              help="Drop a tab's session after this many idle minutes (its page restores it when used again).")
@click.option("--max-batch", default=16, show_default=True, type=click.IntRange(1, 1024),
              help="Most slider moves (of any tabs) drawn in one generator pass (its activations are held at "
                   "once: about 100 MB at 16 on synthfaces64, 220 MB at 32).")
@click.option("--batch-window-ms", default=4.0, show_default=True, type=click.FloatRange(0, 1000),
              help="How long an idle generator waits for more moves to join the first one's batch.")
@click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None, metavar="[ADDRESS]",
              help="Render on a Ray Serve deployment (dynamic batching, replicas): alone, a local Ray cluster; "
                   "with an address ('auto', 'ray://host:10001'), an existing one. Needs ganlens[ray].")
@click.option("--ray-replicas", default=1, show_default=True, type=click.IntRange(1, 1024),
              help="With --ray: copies of the renderer (each loads the model and uses --threads threads).")
@click.option("--precision", default="auto", show_default=True, type=click.Choice(["auto", "bf16", "fp32"]),
              help="What slider moves render in. 'auto': bf16 where the CPU has bf16 instructions (about 3x "
                   "faster for synthfaces64, within a few grey levels of fp32), else fp32.")
@device_option
def serve(model, directions_dir, sefa_num, host, port, max_upload_mb, threads, scorer, guard, session_memory_mb,
          session_idle_min, max_batch, batch_window_ms, ray_address, ray_replicas, precision, device) -> None:
    """Start the web UI: random seeds or uploaded images, sliders per direction, mix, morph, downloads.

    \b
    Example:
      ganlens serve --model synthfaces64 --port 7860
      ganlens serve --model synthfaces64 --directions my_directions/ --sefa 8
      ganlens serve --model synthfaces64 --guard none
      ganlens serve --model my_snapshot.safetensors --scorer synthfaces64 --directions my_directions/
      ganlens serve --model synthfaces64 --ray --ray-replicas 2
    then open http://127.0.0.1:7860 in a browser.
    """
    try:
        import uvicorn

        from ..web import Studio, create_app
    except ImportError as exc:
        raise click.ClickException(f"the web UI needs its extra: pip install 'ganlens[web]' ({exc})") from None
    if threads:
        import torch

        # Measured on 2 shared cores: with 2 threads a 64 px synthesis took up to a second when the other core
        # was busy (the threads wait for each other), with 1 thread about 30 ms either way.
        torch.set_num_threads(threads)
    studio = Studio.load(model, directions=directions_dir, sefa_num=sefa_num, scorer=scorer, guard=guard,
                         device=device, precision=precision)
    local = host in LOOPBACK
    if not local:
        click.echo(f"warning: binding {host} makes the UI reachable from other machines; it has no login", err=True)
    # On loopback, refuse other Host headers: a web page elsewhere could otherwise reach the UI by DNS rebinding.
    hosts = ["127.0.0.1", "localhost"] if host in ("127.0.0.1", "localhost") else None
    read_out = None
    if ray_address is not None:
        from ..web import ray_serve

        click.echo(f"starting the renderer on Ray Serve ({ray_replicas} replica(s), "
                   f"{'a local cluster' if ray_address == 'local' else ray_address})", err=True)
        read_out = ray_serve.start(model, ray_address, ray_replicas, max_batch, batch_window_ms / 1000,
                                   threads, scorer=scorer, guard=guard, device=device, precision=precision)
    app = create_app(studio, max_upload_bytes=int(max_upload_mb * 2**20), allowed_hosts=hosts,
                     session_bytes=int(session_memory_mb * 2**20), session_idle_s=session_idle_min * 60,
                     max_batch=max_batch, batch_window_s=batch_window_ms / 1000, read_out=read_out)
    click.echo(f"ganlens UI for {studio.G.name} on http://{'127.0.0.1' if host == '::1' else host}:{port} "
               f"({len(studio.sliders)} directions, rendered in {studio.precision}); Ctrl+C stops it")
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        if read_out is not None:
            read_out.close()
