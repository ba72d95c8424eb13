"""Package data: icons, the bundled default model, sample images."""
from pathlib import Path

RESOURCES_DIR = Path(__file__).resolve().parent
