"""Loading a study's saved final model back, whatever wrote it.

The inverse of the objectives' ``save_model``: a network's folder (it has a ``model.json``)
comes back behind its preprocessing, loaded by the framework that saved it; anything else
from ``model.joblib``. It sits above the framework modules, which know nothing of each other.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from objectives import _nn_data, _nn_records
from objectives._errors import ObjectiveError
from objectives._keras import KerasObjective
from objectives._network import NetworkObjective
from objectives._torch import TorchObjective

#: the network objectives, by the framework name that ``model.json`` records
_FRAMEWORKS: dict[str, type[NetworkObjective]] = {
    cls.framework: cls for cls in (TorchObjective, KerasObjective)
}


def load_model(directory: str | Path) -> Any:
    """The final model a study saved under ``RESULTS/NAME/model/``, ready to ``predict``.

    A network (``model.json``) comes back behind its preprocessing (``preprocess.joblib``),
    from the exported torch program or the ``.keras`` file, which output probabilities or
    values in the target's units; anything else from ``model.joblib``.
    """
    import joblib

    directory = Path(directory)
    info_path = directory / "model.json"
    if not info_path.is_file():
        return joblib.load(directory / "model.joblib")
    info = json.loads(info_path.read_text(encoding="utf-8"))
    objective = _FRAMEWORKS.get(info.get("framework"))
    if objective is None:
        raise ObjectiveError(f"{info_path}: unknown framework {info.get('framework')!r}")
    prep = joblib.load(directory / _nn_records.PREPROCESS_FILE)
    if not isinstance(prep, _nn_data.Preprocessor):  # the scikit-learn Pipeline exports hold
        prep = _nn_data.Preprocessor.from_export(prep, info)
    network = objective._load_network(directory)
    try:
        histories = json.loads((directory / _nn_records.HISTORY_JSON).read_text(encoding="utf-8"))
    except OSError:
        histories = {}
    # a folder with ``outputs`` holds networks with their head (probabilities, target units)
    return objective._wrap(prep, network, info.get("config", {}), int(info.get("epochs", 0)),
                           histories, head="outputs" in info)
