"""Contacts (users and leads) as contact search returns them, and their tags and companies."""

from __future__ import annotations

from intercom_assets.columns.companies import COMPANY_FIELDS
from intercom_assets.columns.shared import ADDRESSABLE_LIST, AVATAR, TAG_FIELDS
from intercom_assets.schemas import BOOL, MAP, STRING, TIME, FieldType, col, list_of, struct


def _app(prefix: str, platform: str, last_seen: str) -> dict[str, FieldType]:
    """The six mobile-app columns of one platform (android or ios)."""
    return {
        f"{prefix}_app_name": col(STRING, f"The name of the {platform} app the contact is using."),
        f"{prefix}_app_version": col(STRING, f"The version of the {platform} app the contact is using."),
        f"{prefix}_device": col(STRING, f"The {platform} device the contact is using."),
        f"{prefix}_os_version": col(STRING, f"The {platform} OS version the contact is using."),
        f"{prefix}_sdk_version": col(STRING, f"The {platform} SDK version the contact is using."),
        f"{prefix}_last_seen_at": col(TIME, last_seen),
    }


CONTACT_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always contact."),
    "id": col(STRING, "The unique identifier of the contact, given by Intercom."),
    "external_id": col(STRING, "The unique identifier of the contact, provided by the client."),
    "workspace_id": col(STRING, "The id of the workspace the contact belongs to."),
    "role": col(STRING, "The role of the contact: user or lead."),
    "email": col(STRING, "The contact's email."),
    "email_domain": col(STRING, "The contact's email domain."),
    "phone": col(STRING, "The contact's phone."),
    "name": col(STRING, "The contact's name."),
    "owner_id": col(STRING, "The id of the admin assigned account ownership of the contact."),
    "has_hard_bounced": col(BOOL, "Whether an email sent to the contact has hard bounced."),
    "marked_email_as_spam": col(BOOL, "Whether the contact has marked an email as spam."),
    "unsubscribed_from_emails": col(BOOL, "Whether the contact is unsubscribed from emails."),
    "unsubscribed_from_sms": col(BOOL, "Whether the contact is unsubscribed from SMS (sent by the real API)."),
    "sms_consent": col(BOOL, "Whether the contact consented to SMS (sent by the real API)."),
    "enabled_push_messaging": col(BOOL, "Whether push messaging is enabled for the contact (sent by the real API)."),
    "created_at": col(TIME, "When the contact was created."),
    "updated_at": col(TIME, "When the contact was last updated."),
    "signed_up_at": col(TIME, "When the contact signed up, as specified."),
    "last_seen_at": col(TIME, "When the contact was last seen (Messenger or set manually)."),
    "last_replied_at": col(TIME, "When the contact last messaged in."),
    "last_contacted_at": col(TIME, "When the contact was last messaged."),
    "last_email_opened_at": col(TIME, "When the contact last opened an email."),
    "last_email_clicked_at": col(TIME, "When the contact last clicked a link in an email."),
    "language_override": col(STRING, "The preferred language the Messenger uses for the contact."),
    "browser": col(STRING, "The name of the browser the contact is using."),
    "browser_version": col(STRING, "The version of the browser the contact is using."),
    "browser_language": col(STRING, "The language set by the contact's browser."),
    "os": col(STRING, "The operating system the contact is using."),
    **_app("android", "Android", "When the contact was last seen on an Android device."),
    **_app("ios", "iOS", "When the contact last used the iOS app."),
    "referrer": col(STRING, "The page the contact came from (sent by the real API)."),
    "utm_campaign": col(STRING, "The contact's UTM campaign (sent by the real API)."),
    "utm_content": col(STRING, "The contact's UTM content (sent by the real API)."),
    "utm_medium": col(STRING, "The contact's UTM medium (sent by the real API)."),
    "utm_source": col(STRING, "The contact's UTM source (sent by the real API)."),
    "utm_term": col(STRING, "The contact's UTM term (sent by the real API)."),
    "custom_attributes": col(MAP, "The custom attributes set for the contact (JSON object)."),
    "avatar": col(AVATAR, "The contact's avatar (an old lead's can arrive as a bare URL, kept in image_url)."),
    "tags": col(ADDRESSABLE_LIST, "The contact's tags: up to 10, and a url for the rest."),
    "notes": col(ADDRESSABLE_LIST, "The contact's notes: up to 10, and a url for the rest."),
    "companies": col(ADDRESSABLE_LIST, "The contact's companies: up to 10, and a url for the rest."),
    "opted_in_subscription_types": col(ADDRESSABLE_LIST, "Subscription types the contact opted into."),
    "opted_out_subscription_types": col(ADDRESSABLE_LIST, "Subscription types the contact opted out of."),
    "location": col(
        struct(
            type=col(STRING, "Always location."),
            country=col(STRING, "The contact's country."),
            region=col(STRING, "The contact's region."),
            city=col(STRING, "The contact's city."),
            country_code=col(STRING, "The contact's country code."),
            continent_code=col(STRING, "The contact's continent code."),
        ),
        "Where the contact is located.",
    ),
    "social_profiles": col(
        struct(
            type=col(STRING, "Always list."),
            data=list_of(
                struct(
                    type=col(STRING, "Always social_profile."),
                    name=col(STRING, "The social network's name."),
                    url=col(STRING, "The profile's URL."),
                )
            ),
        ),
        "The contact's social profiles.",
    ),
    "merge_history": col(
        list_of(
            struct(
                type=col(STRING, "The type of object."),
                source_contact_id=col(STRING, "The id of the contact merged into this one."),
                source_contact_role=col(STRING, "The role of the contact merged in."),
                merged_at=col(TIME, "When the merge happened."),
            )
        ),
        "Contacts merged into this one (only with include_merge_history=true).",
    ),
}

_CONTACT_LINK: dict[str, FieldType] = {
    "contact_id": col(STRING, "The id of the contact."),
    "contact_updated_at": col(TIME, "The contact's updated_at: the version this row was read from."),
}

# One row per tag of a contact: the embedded {type, id, url} item, or the full tag GET /contacts/{id}/tags returns.
CONTACT_TAG_FIELDS: dict[str, FieldType] = {
    **TAG_FIELDS,
    "url": col(STRING, "The url to fetch the tag (embedded list)."),
    **_CONTACT_LINK,
}

# One row per company of a contact: the embedded {type, id, url} item, or the company GET /contacts/{id}/companies
# returns.
CONTACT_COMPANY_FIELDS: dict[str, FieldType] = {
    **COMPANY_FIELDS,
    "url": col(STRING, "The relative URL of the company (embedded list)."),
    **_CONTACT_LINK,
}
