"""The Test tab's model: InspectedModel and EditView live in visualization.inspection (they compute, without
Qt); this name stays so that `app.tabs.test_model` keeps meaning what the Test tab works on."""
from cyclegan_workbench.visualization.inspection import GENERATORS, EditView, InspectedModel

__all__ = ["GENERATORS", "EditView", "InspectedModel"]
