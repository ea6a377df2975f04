-- One observation per airport and UTC hour. The feed repeats a few hours (daylight-saving
-- changes); the first report of an hour wins so that (origin, observed_hour_utc) is a key.
with ranked as (
    select
        *,
        row_number() over (partition by origin, time_hour order by year, month, day, hour) as report
    from {{ ref('stg_weather') }}
)
select
    origin,
    cast(time_hour as timestamptz) as observed_hour_utc,
    temp as temperature_f,
    dewp as dew_point_f,
    humid as relative_humidity,
    wind_dir as wind_direction_degrees,
    wind_speed as wind_speed_mph,
    wind_gust as wind_gust_mph,
    cast(precip as decimal(5, 2)) as precipitation_inches,
    pressure as pressure_mb,
    visib as visibility_miles
from ranked
where report = 1
