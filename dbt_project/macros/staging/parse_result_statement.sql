{#- Whether a procedure hands out a result document, as the catalogue's "Kết quả thực hiện"
    (ket_qua_thuc_hien) says: "Không", "Không có", "Không có kết quả", "Không quy định" give
    false; a document named ("Giấy phép", "Quyết định …") gives true; a blank cell gives null
    (the procedure is then taken to return one, docs/indicator-rules.md "digit.eresult_rate").
    The capitals of "Không" are spelled out: lower() keeps "Ô" in a C-collated database. -#}
{% macro parse_result_statement(column) -%}
    case
        when nullif(trim({{ column }}), '') is null then null
        when lower(trim({{ column }}))
            ~ '^kh[ôÔ]ng(\s+(c[óÓ]|quy\s+đ[ịỊ]nh|c[ấẤ]p))?(\s+k[ếẾ]t\s+qu[ảẢ])?\s*\.?$'
            then false
        else true
    end
{%- endmacro %}
