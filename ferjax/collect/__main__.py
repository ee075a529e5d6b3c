"""python -m ferjax.collect runs/<sweep> [--paper=sun|jalal|emotional_dan|feratt] [--metrics=...]

Prints the sweep's table (grouped by the swept fields, mean ± sample std over the finished
seeds, finished/total seeds, and what did not finish with its error) and writes it to
<sweep>/table.md and <sweep>/table.csv; with --paper, also <sweep>/table_<paper>.md laid out as
that paper's tables with its numbers beside ours.
"""

from __future__ import annotations

import sys
from pathlib import Path

from absl import app, flags

from ferjax.collect import layouts, runs, table
from ferjax.files import ResultWriteError, write_text

_PAPER = flags.DEFINE_enum("paper", None, sorted(layouts.LAYOUTS), "Lay out as this paper.")
_METRICS = flags.DEFINE_list("metrics", list(table.DEFAULT_METRICS), "Result keys to show.")


def collect(sweep_dir: Path, paper: str | None = None,
            metrics=table.DEFAULT_METRICS) -> str:
    """Writes table.md / table.csv (and table_<paper>.md); returns the printed text."""
    loaded = runs.load(sweep_dir)
    header, rows = table.summary_rows(loaded, metrics)
    text = table.markdown(header, rows, f"{sweep_dir.name}: mean ± std over seeds")
    write_text(sweep_dir / "table.md", text)  # atomically: a full disk keeps the last table
    write_text(sweep_dir / "table.csv", table.csv_rows(loaded, metrics))
    if paper:
        laid_out = layouts.render(paper, table.group(loaded)[1])
        write_text(sweep_dir / f"table_{paper}.md", laid_out)
        text += "\n" + laid_out
    return text


def main(argv):
    if len(argv) != 2:
        raise app.UsageError("usage: python -m ferjax.collect runs/<sweep> [--paper=...]")
    try:
        print(collect(Path(argv[1]), _PAPER.value, tuple(_METRICS.value)), end="")
    except (FileNotFoundError, ResultWriteError) as e:
        sys.exit(f"error: {e}")


def console_main():
    """The ferjax-collect console command."""
    app.run(main)


if __name__ == "__main__":
    console_main()
