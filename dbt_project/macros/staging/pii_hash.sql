{#
    HMAC-SHA256 of a personal identifier with the key held outside the database
    (chiso/core/pii.py). The key's inner and outer pads arrive as session settings
    through PGOPTIONS; a session without them fails here rather than hashing with no key.
    Blank values stay null. The value is trimmed first, as keyed_hash() does in Python.
#}
{% macro pii_hash(expression) -%}
    case
        when nullif(btrim({{ expression }}), '') is not null
            then encode(
                sha256(
                    decode(current_setting('chiso.pii_okey'), 'hex')
                    || sha256(
                        decode(current_setting('chiso.pii_ikey'), 'hex')
                        || convert_to(btrim({{ expression }}), 'UTF8')
                    )
                ),
                'hex'
            )
    end
{%- endmacro %}
