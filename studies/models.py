# Study, Series and Instance index rows arrive with the study library; until then the
# sample studies are resolved by studies.selectors from files that packages ship.
