from django import forms

from reader_study.measures import RATING_SCALE


class LessonForm(forms.Form):
    lesson_id = forms.IntegerField(min_value=1)


class RatingForm(forms.Form):
    rating = forms.TypedChoiceField(choices=RATING_SCALE, coerce=int, widget=forms.RadioSelect)
