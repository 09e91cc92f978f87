from django.apps import AppConfig


class ReadingRoomConfig(AppConfig):
    name = "reading_room"
    verbose_name = "Reading room"
