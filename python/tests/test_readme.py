"""The README's quickstart runs as written."""

import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def test_quickstart_runs(capsys):
    text = README.read_text(encoding="utf-8")
    quickstart = text.split("## Quickstart", 1)[1]
    code = re.search(r"```python\n(.*?)```", quickstart, re.S).group(1)
    exec(compile(code, "README quickstart", "exec"), {})
    out = capsys.readouterr().out
    assert "invalid_input grants[0]" in out
    assert "Summary(total=1, active=1" in out
    assert "ci-deployer ['deployments.networks:write', 'reports:read']" in out
    assert "network_denied" in out
