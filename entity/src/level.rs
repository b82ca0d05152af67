use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "levels")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    /// city, district, street or community.
    pub kind: String,
    pub parent_id: Option<i64>,
    /// Materialised path of ids from the root, e.g. `/1/4/9/`; a level never moves, so it never changes.
    pub path: String,
    /// When set, the organizer who logged hours at this level cannot approve them.
    pub approver_must_differ: bool,
    /// Points earned by riders at this level (and below, unless they set their own) expire this
    /// many months after they were earned; `None`: never.
    pub points_expire_months: Option<i32>,
    /// Points posted from this level's budget to each rider approved as a member here.
    pub welcome_points: Option<i64>,
    /// The default language (`zh-CN` or `en`) of texts for the people at this level and below,
    /// unless a level below sets its own; `None`: the level above's.
    pub language: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
