"""`vagpt store start|stop|status DIR`: the embedded SeaweedFS S3 store, in the background."""

from __future__ import annotations

from va_gpt.cli.common import add_command


def register(sub) -> None:
    p = add_command(sub, "store", "start, stop or check the embedded object store (SeaweedFS, 127.0.0.1)")
    p.add_argument("action", choices=("start", "stop", "status"), help="what to do")
    p.add_argument("data_dir", nargs="?", default="work/objectstore", help="the store's data folder")
    p.set_defaults(run=run)


def run(args) -> int:
    from va_gpt.io.objectstore import read_endpoint, start_background, stop_background

    if args.action == "start":
        ep = start_background(args.data_dir)
        print(f"object store up: {ep.endpoint_url} bucket={ep.bucket}")
    elif args.action == "stop":
        print("object store stopped" if stop_background(args.data_dir) else "object store was not running")
    else:
        ep = read_endpoint(args.data_dir)
        print(f"up: {ep.endpoint_url}" if ep else "down")
        return 0 if ep else 1
    return 0
