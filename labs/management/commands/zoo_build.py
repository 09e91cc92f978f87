"""Train (where needed) and evaluate every model the project trains itself."""

import json

from django.core.management.base import BaseCommand

from labs.zoo import ct_tissue
from studies.selectors import study_series_load


class Command(BaseCommand):
    help = (
        "Train the project's own models if their weights are missing (or --retrain), then evaluate."
    )

    def add_arguments(self, parser):
        parser.add_argument("--retrain", action="store_true", help="Train even if weights exist.")

    def handle(self, *args, retrain: bool, **options):
        image = study_series_load(study_key=ct_tissue.TRAINING_STUDY_KEY).pixels[0]
        if retrain or not ct_tissue.WEIGHTS_PATH.exists():
            self.stdout.write("Training the CT tissue segmenter (seed 0, CPU)...")
            outcome = ct_tissue.train(image_hu=image, seed=0)
            ct_tissue.weights_save(outcome)
        network = ct_tissue.CtTissueSegmenter().network()
        measured = ct_tissue.evaluate(network=network, image_hu=image)
        recorded = json.loads(ct_tissue.METRICS_PATH.read_text())
        self.stdout.write(json.dumps({"measured": measured, "recorded": recorded}, indent=2))
