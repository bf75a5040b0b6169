"""Global gradient-boosted quantile forecasters (LightGBM, XGBoost) over many series.

Multi-horizon strategy: *horizon as a feature*. Every (series, origin) window gives one
training row per step, with the step number as a feature and origin-anchored features
(`forecasting.features.windows`), so one model covers all steps and every series. Compared
with one model per step (direct), it fits horizon x fewer models, shares what the steps have
in common, and forecasts any step up to the trained horizon from a single call; lags that
would reach past the origin are missing for the steps where they would, never leaked.

Quantiles: LightGBM fits one booster per quantile (objective `quantile`); XGBoost fits one
booster for all of them (`reg:quantileerror`). Outputs are sorted per row, so quantiles
never cross, then scaled back to target units and clipped at zero for non-negative targets.
Fitted boosters are saved in each library's own format (text / JSON), not pickled.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.bundle_format import tensor
from forecasting.config.model import LightGBMConfig, XGBoostConfig
from forecasting.data.schema import SERIES
from forecasting.errors import InputError
from forecasting.evaluation.metrics import pinball, quantile_column
from forecasting.features.windows import Windows, learn_categories, make_windows
from forecasting.folders import write_json
from forecasting.forecasts.calibration import calibrated
from forecasting.forecasts.frames import to_target_units
from forecasting.models.common import WindowModel, training_windows
from forecasting.threads import usable_cpus


class GBMForecaster(WindowModel):
    """A global quantile GBM. `fit(frame, static, train_origins, valid_origins)` learns from
    windows of a canonical frame; `forecast(frame, origins, static)` forecasts every series
    at every origin; `predict(history, future, static)` is the one-origin backtest interface."""

    # ------------------------------------------------------------------ fit
    def windows(
        self, frame: pd.DataFrame, origins: pd.DatetimeIndex, static: pd.DataFrame | None
    ) -> Windows:
        w = make_windows(
            frame,
            origins,
            self.features,
            self.horizon,
            self.lookback,
            static,
            getattr(self, "categories_", None),
            self.freq,
        )
        trained = getattr(self, "feature_names_", None)
        if trained is not None and list(w.X.columns) != trained:
            lost = sorted(set(trained) - set(w.X.columns))
            raise InputError(
                f"the data does not give the features the model was trained on: missing "
                f"{lost or 'none'}, built {list(w.X.columns)}"
            )
        return w

    def fit(
        self,
        frame: pd.DataFrame,
        static: pd.DataFrame | None,
        train_origins: pd.DatetimeIndex,
        valid_origins: pd.DatetimeIndex | None = None,
        trainer: Any = None,
        run_dir: Path | None = None,
        trial: Any = None,
    ) -> GBMForecaster:
        """Fit on the windows at `train_origins`, early-stopping on those at `valid_origins`.
        `trainer` and `run_dir` are the deep models' (the same `fit` for every kind); the
        boosters take neither. With an Optuna `trial` (and validation windows), the validation
        loss is reported per boosting round and a trial the pruner stops raises
        `optuna.TrialPruned`."""
        t0 = time.perf_counter()
        self.categories_ = learn_categories(static, self.features.static)
        train, valid = training_windows(
            lambda o: self.windows(frame, o, static),
            _labelled,
            train_origins,
            valid_origins,
            self.lookback,
        )
        self.feature_names_ = list(train.X.columns)
        t1 = time.perf_counter()
        if self.kind == "lightgbm":
            self._fit_lightgbm(train, valid, trial)
        else:
            self._fit_xgboost(train, valid, trial)
        self.fit_info_: dict[str, Any] = {
            "train_rows": len(train),
            "valid_rows": len(valid) if valid is not None else 0,
            "train_series": int(train.index[SERIES].nunique()),
            "train_origins": int(train.index["origin"].nunique()),
            "features_seconds": round(t1 - t0, 2),
            "fit_seconds": round(time.perf_counter() - t1, 2),
            "best_iterations": self.best_iterations_,
            **self.leaf_minimum_,
        }
        if self.round_history_:  # validation loss per boosting round, as the library reports it
            self.fit_info_["round_history"] = self.round_history_
        if valid is not None:
            pred = self._predict_windows(valid)
            self.fit_info_["validation"] = {
                quantile_column(q): pinball(valid.y, pred[:, i], q)
                for i, q in enumerate(self.quantiles)
            }
            self.fit_info_["validation"]["mae_p50"] = float(
                np.mean(np.abs(valid.y - pred[:, self.quantiles.index(0.5)]))
                if 0.5 in self.quantiles
                else np.nan
            )
        return self

    # --------------------------------------------------------- recalibrate
    def training_rows(
        self, frame: pd.DataFrame, origins: pd.DatetimeIndex, static: pd.DataFrame | None
    ) -> Windows:
        """The labelled windows at `origins`, to refit on (a recalibration slices them)."""
        return _labelled(self.windows(frame, origins, static))

    def refit_rows(self, train: Windows, trainer: Any = None) -> GBMForecaster:
        """Fit again from scratch on `train` with the settings of the first fit and as many
        trees as it kept (its best iterations): what a rolling recalibration does as the
        forecast origin moves. No validation, no early stopping."""
        if len(train) == 0:
            raise InputError("recalibration: no labelled window to refit on")
        if self.kind == "lightgbm":
            rounds = dict(zip(self.quantiles, self.best_iterations_, strict=True))
            self._fit_lightgbm(train, None, rounds=rounds)
        else:
            self._fit_xgboost(train, None, rounds=self.best_iterations_[0])
        return self

    def _leaf_minimum(self, name: str, rows: int) -> Any:
        """The smallest leaf the booster may grow: the configured value when the config sets
        it, else the default scaled down for small data (one row in 50 at most, at least 5),
        so a few weeks of one series still grow trees. Recorded in `leaf_minimum_`."""
        c = self.config
        value = getattr(c, name)
        if name not in c.model_fields_set:
            value = type(value)(max(5, min(value, rows // 50)))
        self.leaf_minimum_ = {name: value}
        return value

    def _fit_lightgbm(self, train: Windows, valid: Windows | None, trial: Any = None,
                      rounds: dict[float, int] | None = None) -> None:  # fmt: skip
        import lightgbm as lgb

        c = self.config
        assert isinstance(c, LightGBMConfig)
        params = {
            "objective": "quantile",
            "learning_rate": c.learning_rate,
            "num_leaves": c.num_leaves,
            "min_data_in_leaf": self._leaf_minimum("min_data_in_leaf", len(train)),
            "feature_fraction": c.feature_fraction,
            "bagging_fraction": c.bagging_fraction,
            "bagging_freq": c.bagging_freq,
            "lambda_l2": c.lambda_l2,
            "max_bin": c.max_bin,
            "num_threads": c.num_threads or usable_cpus(),  # 0: the CPUs this process may use
            "seed": c.seed,
            "deterministic": True,
            "verbose": -1,
        }
        dtrain = lgb.Dataset(train.X, train.y / train.scale, free_raw_data=False)
        dvalid = (
            lgb.Dataset(valid.X, valid.y / valid.scale, reference=dtrain)
            if valid is not None
            else None
        )
        boosters: dict[float, Any] = {}
        self.round_history_: dict[str, list[float]] = {}
        # the median (or middle) booster first: it alone reports to the pruner, so a pruned
        # trial stops before the other quantiles are fitted
        middle = self.quantiles[len(self.quantiles) // 2]
        for q in sorted(self.quantiles, key=lambda q: q != middle):
            callbacks: list[Any] = []
            evals: dict[str, Any] = {}
            if dvalid is not None:
                callbacks.append(lgb.record_evaluation(evals))
            if dvalid is not None and c.early_stopping_rounds:
                callbacks.append(lgb.early_stopping(c.early_stopping_rounds, verbose=False))
            if dvalid is not None and trial is not None and q == middle:
                from optuna_integration import LightGBMPruningCallback

                callbacks.append(LightGBMPruningCallback(trial, "quantile", valid_name="valid_0"))
            booster = lgb.train(
                {**params, "alpha": q},
                dtrain,
                num_boost_round=c.n_estimators if rounds is None else max(1, rounds[q]),
                valid_sets=[dvalid] if dvalid is not None else None,
                callbacks=callbacks,
            )
            if evals:
                loss = evals["valid_0"]["quantile"]
                self.round_history_[f"valid_{quantile_column(q)}"] = [float(v) for v in loss]
            best = booster.best_iteration or booster.current_iteration()
            # keep only the trees up to the best iteration, so saved and live models agree
            boosters[q] = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
        self.boosters_: list[Any] = [boosters[q] for q in self.quantiles]
        self.best_iterations_: list[int] = [int(b.current_iteration()) for b in self.boosters_]

    def _fit_xgboost(self, train: Windows, valid: Windows | None, trial: Any = None,
                     rounds: int | None = None) -> None:  # fmt: skip
        import xgboost as xgb

        c = self.config
        assert isinstance(c, XGBoostConfig)
        params = {
            "objective": "reg:quantileerror",
            "quantile_alpha": np.array(self.quantiles),
            "tree_method": "hist",
            "learning_rate": c.learning_rate,
            "max_depth": c.max_depth,
            "min_child_weight": self._leaf_minimum("min_child_weight", len(train)),
            "subsample": c.subsample,
            "colsample_bytree": c.colsample_bytree,
            "reg_lambda": c.reg_lambda,
            "max_bin": c.max_bin,
            "nthread": c.n_jobs or usable_cpus(),
            "seed": c.seed,
        }
        dtrain = xgb.QuantileDMatrix(train.X, train.y / train.scale, max_bin=c.max_bin)
        evals = []
        callbacks: list[Any] = []
        if valid is not None:
            dvalid = xgb.DMatrix(valid.X, valid.y / valid.scale)
            evals = [(dvalid, "valid")]
            if trial is not None:
                from optuna_integration import XGBoostPruningCallback

                callbacks.append(XGBoostPruningCallback(trial, "valid-quantile"))
        evals_result: dict[str, Any] = {}
        booster = xgb.train(
            params,
            dtrain,
            num_boost_round=c.n_estimators if rounds is None else max(1, rounds),
            evals=evals,
            evals_result=evals_result,
            early_stopping_rounds=c.early_stopping_rounds if evals else None,
            verbose_eval=False,
            callbacks=callbacks or None,
        )
        loss = evals_result.get("valid", {}).get("quantile")
        # one loss over all quantiles: XGBoost fits them in one booster
        self.round_history_ = {"valid_quantile": [float(v) for v in loss]} if loss else {}
        best = getattr(booster, "best_iteration", None)
        if best is not None:
            booster = booster[: best + 1]
        self.boosters_ = [booster]
        self.best_iterations_ = [int(booster.num_boosted_rounds())]

    # -------------------------------------------------------------- predict
    def raw_predict(self, X: pd.DataFrame) -> np.ndarray:
        """Booster outputs [rows, quantiles] in scaled target units, before sorting/clipping."""
        if self.kind == "lightgbm":
            return np.column_stack([b.predict(X) for b in self.boosters_])
        import xgboost as xgb

        out = self.boosters_[0].predict(xgb.DMatrix(X))
        return out.reshape(len(X), -1)

    def quantile_booster(self, quantile: float) -> tuple[Any, int]:
        """(the booster that gives `quantile`, its output index): LightGBM fits one booster
        per quantile, XGBoost one booster with an output per quantile."""
        qi = self.quantiles.index(quantile)
        return (self.boosters_[qi], 0) if self.kind == "lightgbm" else (self.boosters_[0], qi)

    # ------------------------------------------------------------------ onnx
    @property
    def _graph_dtype(self) -> str:
        return "float64" if self.kind == "lightgbm" else "float32"  # each library's thresholds

    def onnx_spec(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "inputs": [tensor("X", ["batch", len(self.feature_names_)], self._graph_dtype)],
            "outputs": [tensor("raw", ["batch", len(self.quantiles)], "float32")],
        }

    def to_onnx(self, example: dict[str, np.ndarray] | None = None) -> bytes:
        """The boosters as an ONNX TreeEnsemble graph (`trees_onnx.py`, from their JSON dumps)."""
        from forecasting.models.trees_onnx import lightgbm_onnx, xgboost_onnx

        n = len(self.feature_names_)
        proto = (
            lightgbm_onnx(self.boosters_, n)
            if self.kind == "lightgbm"
            else xgboost_onnx(self.boosters_[0], n, len(self.quantiles))
        )
        return bytes(proto.SerializeToString())

    def native_outputs(
        self, inputs: dict[str, np.ndarray], *, exact: bool = False
    ) -> list[np.ndarray]:
        """The boosters' raw predictions (float64 when `exact`, else as the graph's float32)."""
        X = pd.DataFrame(inputs["X"], columns=self.feature_names_)
        return [np.asarray(self.raw_predict(X), dtype="float64" if exact else "float32")]

    def graph_inputs(
        self, frame: pd.DataFrame, origins: pd.DatetimeIndex, static: pd.DataFrame | None
    ) -> dict[str, np.ndarray]:
        """The ONNX graph's input rows for every series at every origin."""
        X = self.windows(frame, origins, static).X.to_numpy(dtype="float32")
        return {"X": X.astype(self._graph_dtype)}

    def _predict_windows(self, w: Windows) -> np.ndarray:
        if len(w) == 0:
            return np.zeros((0, len(self.quantiles)))
        return to_target_units(np.sort(self.raw_predict(w.X), axis=1), w.scale, self.nonnegative)

    def forecast(
        self,
        frame: pd.DataFrame,
        origins: pd.DatetimeIndex,
        static: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """Long forecasts for every series at every origin; `skipped_` lists what could not be
        forecast and why. Targets at or after an origin are never read for its forecast."""
        w = self.windows(frame, origins, static)
        self.skipped_ = w.skipped
        out = w.index.copy()
        pred = self._predict_windows(w)
        for i, q in enumerate(self.quantiles):
            out[quantile_column(q)] = pred[:, i]
        return calibrated(out, self.calibration_, self.nonnegative)

    # ---------------------------------------------------------- save / load
    def save(self, folder: Path) -> list[str]:
        """Write the boosters (native formats) and `model.json`; return the file names."""
        folder.mkdir(parents=True, exist_ok=True)
        files = []
        if self.kind == "lightgbm":
            for q, b in zip(self.quantiles, self.boosters_, strict=True):
                name = f"lightgbm_{quantile_column(q)}.txt"
                b.save_model(str(folder / name))
                files.append(name)
        else:
            self.boosters_[0].save_model(str(folder / "xgboost.json"))
            files.append("xgboost.json")
        meta = {
            **self.base_meta(),
            "feature_names": self.feature_names_,
            "categories": self.categories_,
            "best_iterations": self.best_iterations_,
            "files": files,
        }
        write_json(folder / "model.json", meta)
        return [*files, "model.json"]

    @classmethod
    def load(cls, folder: Path) -> GBMForecaster:
        meta = json.loads((folder / "model.json").read_text())
        config: LightGBMConfig | XGBoostConfig = (
            LightGBMConfig(**meta["config"])
            if meta["kind"] == "lightgbm"
            else XGBoostConfig(**meta["config"])
        )
        model = cls.from_meta(config, meta)
        model.feature_names_ = meta["feature_names"]
        model.categories_ = meta["categories"]
        model.best_iterations_ = meta["best_iterations"]
        if meta["kind"] == "lightgbm":
            import lightgbm as lgb

            model.boosters_ = [lgb.Booster(model_file=str(folder / f)) for f in meta["files"]]
        else:
            import xgboost as xgb

            booster = xgb.Booster()
            booster.load_model(str(folder / meta["files"][0]))
            model.boosters_ = [booster]
        return model


def _labelled(w: Windows) -> Windows:
    """Only the rows whose target is known (training needs a label)."""
    return w.select(np.isfinite(w.y))
