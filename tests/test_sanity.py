"""The Data chapter's sanity experiment as a study of the shared runner."""

from __future__ import annotations

import pytest

from fer_core.methods.sanity import MODELS, TARGETS, SanityStudy, steps_of
from fer_core.results import ResultStore

pytestmark = pytest.mark.usefixtures("one_thread")
P = dict(size=32, n_identities=2, fine_identities=1, n_unseen=1, steps=2, batch_size=4, width=4, seeds=(0, 1))


@pytest.mark.slow
def test_every_setting_is_reported_per_seed_and_a_rebuild_reuses_them(tmp_path):
    def study():
        return SanityStudy(P, SanityStudy.build_data(P), device="cpu", store=ResultStore("data", root=tmp_path / "r"),
                           run_root=tmp_path / "runs", progress=False)

    first = study()
    first.run_all(workers=1)
    table = first.table()
    assert list(table.index) == list(TARGETS) and len(first.experiments) == 3 * 2
    assert table["accuracy"].between(0, 1).all() and set(table["classes"]) == {7, 54}
    assert all(len(a) == 2 for a in table["accuracies"])  # one value per seed (a new world each)
    assert table.loc["fine-grained, unseen identities", "n_test"] == 54  # one unseen person, one frame per class
    again = study()
    again.run_all(workers=1)
    assert again.computed == {} and again.table().equals(table)


def test_models_cover_every_setting_once_and_step_factors():
    covered = [s for settings in MODELS.values() for s in settings]
    assert sorted(covered) == sorted(TARGETS)
    assert (steps_of("A", 400), steps_of("B", 400), steps_of("C", 400)) == (400, 500, 1200)
    with pytest.raises(ValueError, match="takes no real dataset"):
        SanityStudy.build_data(P, dataset="ckplus", data_root="/nowhere")
