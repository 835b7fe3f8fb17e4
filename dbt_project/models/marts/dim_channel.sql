-- The channels a dossier arrives by (KenhThucHien): over the counter, online, or the public
-- postal service (BCCI). A missing channel is over the counter (docs/sources.md).
with

channels as (

    select *
    from (
        values
        (1, 'direct', 'Trực tiếp', 'Over the counter'),
        (2, 'online', 'Trực tuyến', 'Online'),
        (3, 'bcci', 'Bưu chính công ích (BCCI)', 'Public postal service')
    ) as channel_rows (channel_code, channel, channel_name_vi, channel_name_en)

),

final as (

    select
        channel_code,
        channel,
        channel_name_vi,
        channel_name_en
    from channels

)

select * from final
