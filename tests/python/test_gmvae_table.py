"""Table 1's sweep runner and the card's reading of its rows (no training here)."""
from timbrel.eval import gmvae_card
from timbrel.train import gmvae_table


def test_every_prior_and_share_gets_its_own_run():
    names = gmvae_table.run_names(40)
    assert len(names) == 10 and len({n for _, _, n in names}) == 10
    assert ("isotropic", 0.25, "table-isotropic-0.25-e40") in names
    cmd = gmvae_table.command("d", "r", "mixture", 0.5, "table-mixture-0.5-e40", 40)
    assert cmd[cmd.index("--labels") + 1] == "0.5" and "--no-export" in cmd
    assert cmd[cmd.index("--epochs") + 1] == "40"


def _row(prior, labels, epochs, zt, held):
    scores = {"instrument_zt": zt, "instrument_zp": 0.1, "pitch_zt": 0.05, "pitch_zp": 0.9}
    return {"prior": prior, "labels": labels, "epochs": epochs, "test": scores,
            "heldout": dict(scores, instrument_zt=held)}


def test_reading_quotes_the_rows_in_share_order():
    rows = {"b": _row("mixture", 1.0, 40, 0.91, 0.42), "a": _row("mixture", 0.25, 40, 0.75, 0.27),
            "c": _row("isotropic", 1.0, 150, 0.93, 0.35)}
    text = gmvae_card.table1_reading(rows)
    assert "0.75 (25%), 0.91 (100%)" in text
    assert "0.27-0.42" in text


def test_paper_values_are_digest_table1():
    # DIGEST.md §2, Table 1: M_VAE (isotropic) at 50 % labels, M_GMVAE (mixture) at 100 %.
    assert gmvae_card.PAPER_TABLE1["isotropic"][0.5] == (0.971, 0.169, 0.158, 0.977)
    assert gmvae_card.PAPER_TABLE1["mixture"][1.0] == (1.000, 0.197, 0.028, 0.966)
