"""Model cards: generated from measured values and readable by residents."""

import pytest
from django.urls import reverse

from zoo.registry import MODELS


def test_cards_of_trained_models_carry_measured_metrics_with_intervals():
    for key in ("ct-lesion", "cxr-nodule"):
        card = MODELS[key].card()
        assert card.overall, key
        auc = next(row for row in card.overall if row.name.startswith("AUC"))
        assert auc.low is not None and auc.low <= auc.value <= auc.high
        assert card.failure_modes and card.licence and card.derivation


def test_ct_lesion_card_reports_every_virtual_scanner():
    from zoo.cohorts.ct_lesions import SCANNERS

    groups = {row.group for row in MODELS["ct-lesion"].card().subgroups}
    for scanner in SCANNERS:
        assert any(group.startswith(scanner.name) for group in groups), scanner.name


def test_ct_lesion_failure_modes_agree_with_its_own_subgroup_rows():
    """The failure modes name the weakest organ and scanner the card's rows show, and quote
    the small-lesion figures from them (an earlier text said small nodules were missed
    most while the rows gave lesions under 8 mm the highest AUC)."""
    card = MODELS["ct-lesion"].card()
    text = " ".join(card.failure_modes)
    auc = [row for row in card.subgroups if row.name == "AUC (lesion present)"]
    organs = [row for row in auc if row.group.startswith("organ: ")]
    sites = [row for row in auc if row.group.startswith("site ")]
    weakest_organ = min(organs, key=lambda row: row.value)
    assert f"Weakest organ: {weakest_organ.group.removeprefix('organ: ')}" in text
    assert min(sites, key=lambda row: row.value).group in text
    small = next(row for row in auc if row.group == "lesion diameter 0-8 mm")
    assert f"AUC {small.value:.2f}" in text
    assert "missed most" not in text
    assert "confounded by organ" in text


def test_cxr_card_does_not_call_a_low_specificity_model_excellent():
    card = MODELS["cxr-nodule"].card()
    specificity = next(row for row in card.overall if row.name == "Specificity at 0.5")
    assert specificity.value < 0.2
    assert "excellent" not in card.intended_use.lower()
    assert "specificity" in card.intended_use


def test_ct_tissue_card_says_what_network_it_is():
    card = MODELS["ct-tissue"].card()
    assert "not a U-Net" in card.training_data
    assert "-400, -20 and 250 HU" in card.training_data


@pytest.mark.django_db
@pytest.mark.parametrize("key", sorted(MODELS))
def test_resident_reads_every_model_card(client, people, key):
    client.force_login(people["resident"])
    response = client.get(reverse("labs:model_card", args=[key]))
    assert response.status_code == 200
    assert MODELS[key].title in response.content.decode()


@pytest.mark.django_db
def test_unknown_model_card_is_404(client, people):
    client.force_login(people["resident"])
    assert client.get(reverse("labs:model_card", args=["nope"])).status_code == 404
