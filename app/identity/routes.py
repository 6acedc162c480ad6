from __future__ import annotations

import uuid

from fastapi import status

from app.auth import AppRuntime, CurrentActor, DbSession
from app.core.errors import problem_responses
from app.core.uow import domain_router
from app.identity import repository, service
from app.identity.schemas import (
    LoginRequest,
    MeResponse,
    MessageResponse,
    RefreshRequest,
    RegisterRequest,
    RegisterResponse,
    ResendVerificationRequest,
    TokenCreate,
    TokenCreated,
    TokenRead,
    TokenResponse,
    TotpConfirmRequest,
    TotpEnrollResponse,
    VerifyEmailRequest,
)

router = domain_router(tags=["accounts"])
AUTHED = problem_responses(401, 403, 422)


@router.post(
    "/auth/register",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409, 422, 429),
)
async def register(
    body: RegisterRequest, session: DbSession, runtime: AppRuntime
) -> RegisterResponse:
    user = await service.register(
        session, runtime, email=body.email, password=body.password, display_name=body.display_name
    )
    return RegisterResponse(
        id=user.id, email=user.email, display_name=user.display_name, email_verified=False
    )


@router.post("/auth/verify-email", responses=problem_responses(422))
async def verify_email(body: VerifyEmailRequest, session: DbSession) -> MessageResponse:
    await service.verify_email(session, token=body.token)
    return MessageResponse(detail="E-mail address verified.")


@router.post(
    "/auth/verify-email/resend",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(422, 429),
)
async def resend_verification(
    body: ResendVerificationRequest, session: DbSession, runtime: AppRuntime
) -> MessageResponse:
    await service.resend_verification(session, runtime, email=body.email)
    return MessageResponse(
        detail="If the address is registered and unverified, a mail is on its way."
    )


@router.post("/auth/login", responses=problem_responses(401, 422, 429))
async def login(body: LoginRequest, session: DbSession, runtime: AppRuntime) -> TokenResponse:
    return await service.login(
        session, runtime, email=body.email, password=body.password, totp_code=body.totp_code
    )


@router.post("/auth/refresh", responses=problem_responses(401, 422))
async def refresh(body: RefreshRequest, session: DbSession, runtime: AppRuntime) -> TokenResponse:
    return await service.refresh(session, runtime, token=body.refresh_token)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, responses=AUTHED)
async def logout(actor: CurrentActor, session: DbSession) -> None:
    await service.logout(session, actor)


@router.get("/me", responses=AUTHED)
async def me(actor: CurrentActor, session: DbSession) -> MeResponse:
    return await service.describe_me(session, actor)


@router.post("/me/mfa/totp", responses=problem_responses(401, 403, 409))
async def totp_enroll(
    actor: CurrentActor, session: DbSession, runtime: AppRuntime
) -> TotpEnrollResponse:
    secret, uri = await service.totp_enroll(session, runtime, actor)
    return TotpEnrollResponse(secret=secret, otpauth_uri=uri)


@router.post("/me/mfa/totp/confirm", responses=problem_responses(401, 403, 409, 422))
async def totp_confirm(
    body: TotpConfirmRequest, actor: CurrentActor, session: DbSession, runtime: AppRuntime
) -> MessageResponse:
    await service.totp_confirm(session, runtime, actor, body.code)
    return MessageResponse(detail="TOTP enabled.")


@router.post("/me/tokens", status_code=status.HTTP_201_CREATED, responses=AUTHED)
async def create_token(
    body: TokenCreate, actor: CurrentActor, session: DbSession, runtime: AppRuntime
) -> TokenCreated:
    record, token = await service.create_personal_token(
        session,
        runtime,
        actor,
        name=body.name,
        scopes=list(body.scopes),
        expires_in_days=body.expires_in_days,
    )
    return TokenCreated(
        id=record.id,
        token=token,
        name=record.name,
        scopes=record.scopes,
        expires_at=record.expires_at,
    )


@router.get("/me/tokens", responses=AUTHED)
async def list_tokens(actor: CurrentActor, session: DbSession) -> list[TokenRead]:
    rows = await repository.personal_tokens(session, actor.user_id)
    return [
        TokenRead(
            id=r.id,
            name=r.name,
            scopes=r.scopes,
            created_at=r.created_at,
            expires_at=r.expires_at,
            last_used_at=r.last_used_at,
        )
        for r in rows
    ]


@router.delete(
    "/me/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 422),
)
async def delete_token(token_id: uuid.UUID, actor: CurrentActor, session: DbSession) -> None:
    await service.revoke_personal_token(session, actor, token_id)
