"""The results ledger on hand-made tables: the paper's numbers beside the run's, every claim."""

from benediff import report
from test_claims import video_rows, write


def test_ledger_puts_the_papers_means_beside_the_runs_and_lists_every_claim(tmp_path):
    write(tmp_path)
    table = video_rows().assign(n_videos=3, realism=1.0, realism_floor=0.5, specificity_std=0.1)
    table.to_csv(tmp_path / "tables" / "specificity.csv", index=False)
    text = report.write_ledger(tmp_path, tmp_path / "RESULTS.md", title="Demo", note="Simulated.")
    assert (tmp_path / "RESULTS.md").read_text() == text
    assert text.startswith("# Demo\n") and "Simulated." in text
    # Table 1, VIS_L: ours MIG 30 ± 2 beside the paper's 55.87, pi-VAE's 10 ± 1 beside 43.98
    assert "| VIS_L | MIG (%) | 30.0 ± 2.0 (55.9) | 10.0 ± 1.0 (44.0) | 5.0 ± 1.0 (37.5) |" in text
    assert "| VIS_L | MIG, trials shuffled (%) | 1.0 ± 0.2 | — | — |" in text
    assert "| VIS_L | RMSE |" not in text  # a metric the run's table lacks gets no row
    # Table 2 matches the paper's sessions by order: S1 -> session 1
    assert "| S1 | MIG (%) | 20.0 ± 2.0 (56.4) | 5.0 ± 1.0 (34.6) |" in text
    assert "| A | 70 % / 3.0 / 0.80 / 2× |" in text
    from benediff.claims import check
    claims = check(tmp_path)
    assert f"{sum(c[1] for c in claims)} of {len(claims)} hold" in text
    assert all(c[0] in text for c in claims)


def test_paper_value_lookup():
    assert report.paper_value(1, "MOs_L", 1, "mig", "cebra (mlp)") == (37.94, 0.23)
    assert report.paper_value(2, "S9", 1, "r2", "vae") == (78.68, 0.21)  # second session
    assert report.paper_value(3, "SSp_L", 0, "mig", "ours") is None  # not in the paper
    assert report.paper_value(1, "VIS_L", 0, "mig_floor", "ours") is None
