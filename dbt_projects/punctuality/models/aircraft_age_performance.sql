-- Do older aircraft depart later? Departure delay by aircraft age band at the time of flight.
with flown as (
    select
        f.carrier,
        year(f.flight_date) - a.year_built as age_years,
        f.departure_delay_minutes
    from {{ source('flight_operations', 'flights') }} as f
    join {{ source('fleet', 'aircraft') }} as a using (tailnum)
    where not f.cancelled and a.year_built is not null
)
select
    case
        when age_years < 5 then '0-4'
        when age_years < 10 then '5-9'
        when age_years < 20 then '10-19'
        else '20+'
    end as age_band,
    count(*) as flights,
    avg(departure_delay_minutes) as avg_departure_delay_minutes
from flown
group by all
