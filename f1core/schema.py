"""The store's schema as numbered migrations.

Keys are the natural keys every source shares: race = (season, round), driver = driver_ref,
constructor = constructor_ref, circuit = circuit_ref. The dump's numeric ids never reach the store,
so rows from the CSV dump and from the Jolpica API meet without a mapping table.
"""
from __future__ import annotations

# `position_text` of a car that never took the start: withdrawn (W) or failed to qualify (F)
NOT_STARTED = ("W", "F")

_RESULT_COLUMNS = """
    season INTEGER NOT NULL,
    round INTEGER NOT NULL,
    driver_ref VARCHAR NOT NULL,
    constructor_ref VARCHAR NOT NULL,
    number INTEGER,
    grid INTEGER,
    position INTEGER,
    position_text VARCHAR,
    position_order INTEGER NOT NULL,
    points DOUBLE,
    laps INTEGER,
    time VARCHAR,
    milliseconds BIGINT,
    fastest_lap INTEGER,
    fastest_lap_rank INTEGER,
    fastest_lap_time VARCHAR,
    fastest_lap_speed DOUBLE,
    status VARCHAR
"""

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "source tables and ingestion log",
        f"""
CREATE TABLE seasons (season INTEGER PRIMARY KEY, url VARCHAR);
CREATE TABLE circuits (
    circuit_ref VARCHAR PRIMARY KEY, name VARCHAR, location VARCHAR, country VARCHAR,
    lat DOUBLE, lng DOUBLE, alt DOUBLE, url VARCHAR);
CREATE TABLE drivers (
    driver_ref VARCHAR PRIMARY KEY, number INTEGER, code VARCHAR, forename VARCHAR, surname VARCHAR,
    dob DATE, nationality VARCHAR, url VARCHAR);
CREATE TABLE constructors (
    constructor_ref VARCHAR PRIMARY KEY, name VARCHAR, nationality VARCHAR, url VARCHAR);
CREATE TABLE status (status_id INTEGER PRIMARY KEY, status VARCHAR);
CREATE TABLE races (
    season INTEGER NOT NULL, round INTEGER NOT NULL, circuit_ref VARCHAR NOT NULL, name VARCHAR,
    date DATE NOT NULL, time TIME, url VARCHAR,
    fp1_date DATE, fp1_time TIME, fp2_date DATE, fp2_time TIME, fp3_date DATE, fp3_time TIME,
    quali_date DATE, quali_time TIME, sprint_date DATE, sprint_time TIME,
    PRIMARY KEY (season, round));
CREATE TABLE results ({_RESULT_COLUMNS}, PRIMARY KEY (season, round, driver_ref, position_order));
CREATE TABLE sprint_results ({_RESULT_COLUMNS}, PRIMARY KEY (season, round, driver_ref));
CREATE TABLE qualifying (
    season INTEGER NOT NULL, round INTEGER NOT NULL, driver_ref VARCHAR NOT NULL,
    constructor_ref VARCHAR NOT NULL, number INTEGER, position INTEGER,
    q1 VARCHAR, q2 VARCHAR, q3 VARCHAR, q1_s DOUBLE, q2_s DOUBLE, q3_s DOUBLE,
    PRIMARY KEY (season, round, driver_ref));
CREATE TABLE pit_stops (
    season INTEGER NOT NULL, round INTEGER NOT NULL, driver_ref VARCHAR NOT NULL, stop INTEGER NOT NULL,
    lap INTEGER, time VARCHAR, duration VARCHAR, milliseconds BIGINT,
    PRIMARY KEY (season, round, driver_ref, stop));
CREATE TABLE driver_standings (
    season INTEGER NOT NULL, round INTEGER NOT NULL, driver_ref VARCHAR NOT NULL,
    points DOUBLE, position INTEGER, position_text VARCHAR, wins INTEGER,
    PRIMARY KEY (season, round, driver_ref));
CREATE TABLE constructor_standings (
    season INTEGER NOT NULL, round INTEGER NOT NULL, constructor_ref VARCHAR NOT NULL,
    points DOUBLE, position INTEGER, position_text VARCHAR, wins INTEGER,
    PRIMARY KEY (season, round, constructor_ref));
CREATE TABLE constructor_results (
    season INTEGER NOT NULL, round INTEGER NOT NULL, constructor_ref VARCHAR NOT NULL,
    points DOUBLE, status VARCHAR,
    PRIMARY KEY (season, round, constructor_ref));
-- Observed race-session weather, one row per race and source ('fastf1' session averages,
-- 'openmeteo' daily values at the circuit).
CREATE TABLE weather_observed (
    season INTEGER NOT NULL, round INTEGER NOT NULL, source VARCHAR NOT NULL,
    air_temp DOUBLE, track_temp DOUBLE, humidity DOUBLE, pressure DOUBLE, wind_speed DOUBLE,
    rainfall_rate DOUBLE, precipitation_mm DOUBLE, precipitation_hours DOUBLE,
    temp_max DOUBLE, temp_min DOUBLE, wet BOOLEAN,
    PRIMARY KEY (season, round, source));
-- Forecast for an upcoming race at its start time; the latest fetch replaces the previous one.
CREATE TABLE weather_forecast (
    season INTEGER NOT NULL, round INTEGER NOT NULL, source VARCHAR NOT NULL,
    fetched_at TIMESTAMP NOT NULL, valid_at TIMESTAMP,
    air_temp DOUBLE, precipitation_probability DOUBLE, precipitation_mm DOUBLE,
    humidity DOUBLE, wind_speed DOUBLE,
    PRIMARY KEY (season, round, source));
CREATE SEQUENCE ingestion_run_seq START 1;
CREATE TABLE ingestion_runs (
    run_id INTEGER PRIMARY KEY DEFAULT nextval('ingestion_run_seq'),
    source VARCHAR NOT NULL, started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP,
    ok BOOLEAN, rows_added INTEGER, message VARCHAR);
""",
    ),
]

MIGRATIONS.append((
    2,
    "backtest results and the prediction log",
    """
CREATE SEQUENCE backtest_run_seq START 1;
CREATE TABLE backtest_runs (
    run_id INTEGER PRIMARY KEY DEFAULT nextval('backtest_run_seq'),
    created_at TIMESTAMP NOT NULL, model_version VARCHAR, from_season INTEGER, to_season INTEGER,
    seconds DOUBLE, config JSON, summary JSON);
-- One row per (run, mode, predictor, race, driver): the probabilities each predictor gave.
CREATE TABLE backtest_predictions (
    run_id INTEGER NOT NULL, mode VARCHAR NOT NULL, predictor VARCHAR NOT NULL,
    season INTEGER NOT NULL, round INTEGER NOT NULL, driver_ref VARCHAR NOT NULL,
    grid DOUBLE, position_order INTEGER, p_win DOUBLE, p_podium DOUBLE, p_points DOUBLE, p_dnf DOUBLE,
    expected_position DOUBLE,
    PRIMARY KEY (run_id, mode, predictor, season, round, driver_ref));
CREATE TABLE backtest_race_metrics (
    run_id INTEGER NOT NULL, mode VARCHAR NOT NULL, predictor VARCHAR NOT NULL,
    season INTEGER NOT NULL, round INTEGER NOT NULL,
    winner_top1 DOUBLE, winner_top3 DOUBLE, winner_logloss DOUBLE, multiclass_brier DOUBLE,
    podium_brier DOUBLE, spearman DOUBLE, position_mae DOUBLE,
    PRIMARY KEY (run_id, mode, predictor, season, round));
CREATE TABLE backtest_stage1 (
    run_id INTEGER NOT NULL, season INTEGER NOT NULL, round INTEGER NOT NULL,
    grid_spearman DOUBLE, pole_hit DOUBLE, laptime_median_abs_error_s DOUBLE, drivers INTEGER,
    PRIMARY KEY (run_id, season, round));
-- Predictions as users saw them before a race, frozen with time and model version.
CREATE TABLE prediction_log (
    logged_at TIMESTAMP NOT NULL, season INTEGER NOT NULL, round INTEGER NOT NULL, mode VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL, driver_ref VARCHAR NOT NULL, constructor_ref VARCHAR,
    grid DOUBLE, quali_gap_pct DOUBLE, p_win DOUBLE, p_podium DOUBLE, p_points DOUBLE, p_dnf DOUBLE,
    expected_position DOUBLE, position_p10 DOUBLE, position_p90 DOUBLE,
    PRIMARY KEY (season, round, mode, model_version, logged_at, driver_ref));
-- Stage 1 walk-forward predictions, the inputs of the pre-qualifying race model; keyed by the
-- configuration that made them so a change of features or parameters starts afresh.
CREATE TABLE stage1_walkforward (
    config_key VARCHAR NOT NULL, season INTEGER NOT NULL, round INTEGER NOT NULL,
    driver_ref VARCHAR NOT NULL, pred_gap DOUBLE,
    PRIMARY KEY (config_key, season, round, driver_ref));
""",
))

MIGRATIONS.append((
    3,
    "how drivers are named on screen",
    """
-- The one rule for a driver's short name: his official three-letter code, else the first three
-- letters of his surname (accents stripped), as timing screens did before codes existed.
-- `f1core.names.fallback_code` applies the same rule to a driver the store does not know.
CREATE VIEW driver_labels AS
SELECT driver_ref, coalesce(code, upper(left(strip_accents(surname), 3))) AS code,
       forename || ' ' || surname AS driver_name, nationality
FROM drivers;
""",
))

MIGRATIONS.append((
    4,
    "championship odds through each season, and the season checkpoint backtest",
    """
-- The title odds after each round: 'frozen' when the app computed them right after that round
-- (what users saw), 'replay' when computed later with models trained only on earlier races.
CREATE TABLE season_odds (
    season INTEGER NOT NULL, after_round INTEGER NOT NULL, kind VARCHAR NOT NULL, ref VARCHAR NOT NULL,
    source VARCHAR NOT NULL, points_now DOUBLE, p_title DOUBLE, points_expected DOUBLE,
    points_p10 DOUBLE, points_p90 DOUBLE, model_version VARCHAR, computed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (season, after_round, kind, ref, source));
CREATE SEQUENCE season_backtest_seq START 1;
CREATE TABLE season_backtest_runs (
    run_id INTEGER PRIMARY KEY DEFAULT nextval('season_backtest_seq'), created_at TIMESTAMP NOT NULL,
    seconds DOUBLE, settings JSON);
CREATE TABLE season_checkpoints (
    run_id INTEGER NOT NULL, season INTEGER NOT NULL, after_round INTEGER NOT NULL, champion VARCHAR,
    favourite VARCHAR, p_champion DOUBLE, favourite_won DOUBLE, champion_logloss DOUBLE, title_brier DOUBLE,
    champion_brier DOUBLE, band_coverage DOUBLE, drivers INTEGER, baseline_p_champion DOUBLE, baseline_favourite_won DOUBLE,
    baseline_champion_logloss DOUBLE, baseline_title_brier DOUBLE, baseline_champion_brier DOUBLE,
    PRIMARY KEY (run_id, season, after_round));
""",
))

MIGRATIONS.append((
    5,
    "backtest predictions carry stage 1's view and what happened, so every metric can be recounted",
    """
ALTER TABLE backtest_predictions ADD COLUMN pred_grid DOUBLE;
ALTER TABLE backtest_predictions ADD COLUMN pred_gap DOUBLE;
ALTER TABLE backtest_predictions ADD COLUMN pred_quali_time_s DOUBLE;
ALTER TABLE backtest_predictions ADD COLUMN quali_time_s DOUBLE;
ALTER TABLE backtest_predictions ADD COLUMN finish DOUBLE;
ALTER TABLE backtest_predictions ADD COLUMN actual_grid DOUBLE;
""",
))

# Tables filled from the sources, in the order a bootstrap writes them (parents first).
SOURCE_TABLES = [
    "seasons", "circuits", "drivers", "constructors", "status", "races", "results",
    "sprint_results", "qualifying", "pit_stops", "driver_standings", "constructor_standings",
    "constructor_results", "weather_observed", "weather_forecast",
]

PRIMARY_KEYS: dict[str, list[str]] = {
    "seasons": ["season"],
    "circuits": ["circuit_ref"],
    "drivers": ["driver_ref"],
    "constructors": ["constructor_ref"],
    "status": ["status_id"],
    "races": ["season", "round"],
    "results": ["season", "round", "driver_ref", "position_order"],
    "sprint_results": ["season", "round", "driver_ref"],
    "qualifying": ["season", "round", "driver_ref"],
    "pit_stops": ["season", "round", "driver_ref", "stop"],
    "driver_standings": ["season", "round", "driver_ref"],
    "constructor_standings": ["season", "round", "constructor_ref"],
    "constructor_results": ["season", "round", "constructor_ref"],
    "weather_observed": ["season", "round", "source"],
    "weather_forecast": ["season", "round", "source"],
}

MIGRATIONS.append((
    6,
    "races a source answered without usable data, asked again after a wait instead of on every refresh",
    """
CREATE TABLE source_misses (
    source VARCHAR NOT NULL, season INTEGER NOT NULL, round INTEGER NOT NULL, reason VARCHAR NOT NULL,
    tries INTEGER NOT NULL, last_tried TIMESTAMP NOT NULL, retry_at TIMESTAMP NOT NULL,
    PRIMARY KEY (source, season, round));
""",
))
