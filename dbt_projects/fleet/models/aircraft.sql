select
    tailnum,
    cast(year as integer) as year_built,
    manufacturer,
    model,
    type as aircraft_type,
    cast(engines as integer) as engines,
    cast(seats as integer) as seats,
    engine as engine_type
from {{ ref('stg_planes') }}
