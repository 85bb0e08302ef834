"""`cpsched models`: the bundled workloads and hardware, what they model, their parameters."""

from __future__ import annotations

from rich import box
from rich.table import Table

from cpsched.cli.common import app, stdout, user_errors


@app.command("models")
def models_command() -> None:
    """List the bundled workloads (with their parameters) and hardware."""
    from cpsched.frontend.catalog import (
        bundled_hardware,
        bundled_workloads,
        hardware_path,
        workload_path,
    )
    from cpsched.frontend.hardware import Hardware
    from cpsched.frontend.workload.load import read_workload_header
    from cpsched.frontend.workload.onnx_ops import support_summary
    from cpsched.model.io import load_model

    with user_errors():
        wl = Table(title="workloads (--workload NAME, --set K=V)", box=box.SIMPLE_HEAD)
        wl.add_column("name", no_wrap=True)
        wl.add_column("description")
        wl.add_column("parameters (default)")
        for name in bundled_workloads():
            header = read_workload_header(workload_path(name))
            params = "\n".join(f"{k}={p.default}: {p.doc}" for k, p in header.params.items())
            wl.add_row(name, header.description, params)
        hw = Table(title="hardware (--hardware NAME)", box=box.SIMPLE_HEAD)
        hw.add_column("name", no_wrap=True)
        hw.add_column("description")
        hw.add_column("cores", justify="right")
        for name in bundled_hardware():
            spec = load_model(hardware_path(name), Hardware)
            hw.add_row(name, spec.description, str(len(spec.cores)))
    out = stdout()
    out.print(wl)
    out.print(hw)
    out.print(f"ONNX (--workload FILE.onnx, --bits): {support_summary()}")
