"""ECG anomaly detection with a spiking autoencoder (MIT-BIH record 208).

:mod:`~evolve.apps.ecg.pipeline` holds the method and the API (:func:`detect_anomalies`, what
``evolve ecg`` runs; :func:`run_pipeline`, without a run folder); its parts are
:mod:`~evolve.apps.ecg.signals` (filtering, R peaks, beats), :mod:`~evolve.apps.ecg.records`
(the recordings), :mod:`~evolve.apps.ecg.model` (the autoencoder) and
:mod:`~evolve.apps.ecg.plots` (the figures).
"""
