-- On-time performance by carrier, route and month. A flight is on time when it arrives less
-- than 15 minutes late (the US DOT definition); cancelled flights count against the carrier.
select
    f.carrier,
    c.name as carrier_name,
    f.origin,
    f.dest,
    f.flight_month as month,
    count(*) as flights,
    count(*) filter (where f.cancelled) as cancelled_flights,
    count(*) filter (where f.arrival_delay_minutes < 15) as on_time_arrivals,
    count(*) filter (where f.arrival_delay_minutes < 15) / count(*) as on_time_rate,
    avg(f.arrival_delay_minutes) as avg_arrival_delay_minutes
from {{ source('flight_operations', 'flights') }} as f
join {{ source('shared', 'carriers') }} as c using (carrier)
group by all
