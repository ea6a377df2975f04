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
    cast(temp as double) as temperature_f,
    cast(dewp as double) as dew_point_f,
    cast(humid as double) as relative_humidity,
    cast(wind_dir as double) as wind_direction_degrees,
    cast(wind_speed as double) as wind_speed_mph,
    cast(wind_gust as double) as wind_gust_mph,
    cast(precip as decimal(5, 2)) as precipitation_inches,
    cast(pressure as double) as pressure_mb,
    cast(visib as double) as visibility_miles
from ranked
where report = 1
