-- Remote sensing: observed cropped area per field against the declared area (see docs/CONTRACTS.md).
CREATE TABLE crop_area_estimates (
    id               bigserial PRIMARY KEY,
    field_id         uuid REFERENCES fields (id),
    farm_id          uuid,
    external_field_id text,
    estimated_at     timestamptz NOT NULL DEFAULT now(),
    season_start     date,
    season_end       date,
    cropped_ha       numeric(12, 4),
    grassland_ha     numeric(12, 4),
    area_ha          numeric(12, 4) NOT NULL,
    declared_ha      numeric(12, 4),
    ratio            numeric(8, 4),        -- observed cropped / declared
    ratio_low        numeric(8, 4),
    ratio_high       numeric(8, 4),
    clear_observations integer NOT NULL,
    flags            text[] NOT NULL DEFAULT '{}',
    ndvi_series      jsonb NOT NULL DEFAULT '[]',   -- [{"date": "2018-06-01", "ndvi": 0.71, "clear_fraction": 0.98}]
    scene_ids        text[] NOT NULL DEFAULT '{}',
    method_version   text NOT NULL,
    covered_fraction numeric(6, 4),
    unknown_ha       numeric(12, 4)
);

CREATE INDEX crop_area_estimates_farm_idx ON crop_area_estimates (farm_id, estimated_at DESC);
CREATE INDEX crop_area_estimates_field_idx ON crop_area_estimates (field_id, estimated_at DESC);
