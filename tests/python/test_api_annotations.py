"""Annotation mismatches of the API model: which observed types an annotation does not accept."""
import pytest

from callmonitor.analyse.api import annotation_mismatches


@pytest.mark.parametrize("annotation, types, expected", [
    ("int", {"int": 3, "bool": 1}, {}),
    ("float", {"int": 3, "float": 1, "str": 2}, {"str": 2}),
    ("Optional[int]", {"None": 1, "float": 2}, {"float": 2}),
    ("int | str", {"bytes": 1, "str": 1}, {"bytes": 1}),
    ("Literal['a', 'b']", {"str": 4, "int": 1}, {"int": 1}),
    ("np.ndarray", {"numpy.typing.NDArray[numpy.float64]": 2, "list[float]": 1}, {"list[float]": 1}),
    ("MyClass", {"int": 1}, {}),               # a class: not judged
    ("Sequence[int]", {"list[int]": 1}, {}),   # an ABC: not judged
    ("float", {"numpy.float64": 1, "numpy.int64": 1}, {"numpy.int64": 1}),
    ("", {"int": 1}, {}),
])
def test_annotation_mismatches(annotation, types, expected):
    assert annotation_mismatches(annotation, types) == expected
