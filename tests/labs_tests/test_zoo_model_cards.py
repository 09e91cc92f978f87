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
