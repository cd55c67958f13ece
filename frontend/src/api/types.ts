// Shapes of our REST API (/api/annotations/), as the server's serializers write them.

export interface Geometry {
  readonly slice_count: number;
  readonly rows: number;
  readonly columns: number;
  readonly pixel_spacing: readonly [number, number] | null;
  readonly slice_spacing: number | null;
  readonly orientation: string;
  readonly order: readonly number[];
  readonly missing_slices?: number;
  readonly problems?: readonly string[];
}

export interface Series {
  readonly id: number;
  readonly study_instance_uid: string;
  readonly series_instance_uid: string;
  readonly fit_for_3d: boolean | null;
  readonly unfit_reason: string;
  readonly geometry: Geometry | null;
}

export interface Comment {
  readonly author: string;
  readonly text: string;
  readonly created_at: string;
}

export interface Finding {
  readonly id: string;
  readonly segment: number;
  readonly voxel_count: number;
  readonly volume_mm3: number;
  readonly long_axis_mm: number;
  readonly centroid_mm: readonly [number, number, number];
  readonly centroid_voxel: readonly [number, number, number];
  readonly attributes: Readonly<Record<string, number>>;
  readonly confidence: number | null;
  readonly comments: readonly Comment[];
}

export interface Revision {
  readonly id: number;
  readonly parent_id: number | null;
  readonly author: string;
  readonly author_kind: "user" | "model";
  readonly model_version_id?: number | null;
  readonly created_at: string;
  readonly findings: readonly Finding[];
  readonly labelmap_url?: string;
}

export interface SegmentSchema {
  readonly index: number;
  readonly name: string;
  readonly colour: string;
  readonly code?: unknown;
}

export interface AttributeSchema {
  readonly name: string;
  readonly label: string;
  readonly choices: Readonly<Record<string, string>>;
}

export interface LabelSchema {
  readonly segments: readonly SegmentSchema[];
  readonly attributes: readonly AttributeSchema[];
}

export type TaskMode = "annotate" | "review" | "read";

/** What the signed-in user may do to the task now (the server decides; the UI follows). */
export interface Permissions {
  readonly can_edit: boolean;
  readonly can_submit: boolean;
  readonly can_start_review?: boolean;
  readonly can_decide?: boolean;
  readonly can_release?: boolean;
  readonly can_reopen?: boolean;
  readonly can_assign?: boolean;
}

export interface FindingComment {
  readonly finding_id: string;
  readonly text: string;
}

export type ReviewDecision = "accepted" | "rework";

export interface Review {
  readonly id: number;
  readonly revision_id: number;
  readonly reviewer: string;
  readonly decision: ReviewDecision;
  readonly comment: string;
  readonly finding_comments: readonly FindingComment[];
  readonly model_version_id: number | null;
  readonly model_dice: number | null;
  readonly created_at: string;
}

export interface Task {
  readonly id: number;
  readonly project_id: number;
  readonly state: string;
  readonly series: Series;
  readonly latest_revision: Revision | null;
  readonly schema: LabelSchema;
  readonly permissions: Permissions;
  /** annotate: the assignee edits; review: the reviewer holding it; read: neither. */
  readonly mode?: TaskMode;
  /** Newest first. */
  readonly reviews?: readonly Review[];
  readonly assignee?: string | null;
  readonly reviewer?: string | null;
  readonly due_date?: string | null;
  readonly rework_count?: number;
  readonly next_url?: string;
}

/** The body of accept and rework (and reopen, which needs the comment). */
export interface DecisionRequest {
  readonly comment: string;
  readonly finding_comments: readonly FindingComment[];
}

export interface SavedRevision {
  readonly id: number;
  readonly parent_id?: number | null;
}

export interface ErrorBody {
  readonly code?: string;
  readonly detail?: string;
  readonly latest_id?: number | null;
}
