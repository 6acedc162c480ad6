from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Cookie, Path, Query, status
from fastapi.responses import RedirectResponse

from app.auth import AppRuntime, CurrentActor, DbSession
from app.core.errors import Unauthorized, problem_responses
from app.core.uow import domain_router
from app.identity import oidc, repository, service
from app.identity.schemas import (
    LoginRequest,
    MeResponse,
    MessageResponse,
    OIDCExchangeRequest,
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


ProviderName = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


@router.get(
    "/auth/oidc/{provider}/authorize",
    status_code=status.HTTP_302_FOUND,
    response_class=RedirectResponse,
    responses={**problem_responses(404, 409, 422), 302: {"description": "To the provider"}},
)
async def oidc_authorize(provider: ProviderName, runtime: AppRuntime) -> RedirectResponse:
    configured = oidc.provider_named(runtime, provider)
    start = await oidc.begin(runtime, configured)
    response = RedirectResponse(start.url, status_code=status.HTTP_302_FOUND)
    # Binds the login to this browser, so a stolen `state` cannot finish it elsewhere.
    response.set_cookie(
        oidc.BINDING_COOKIE,
        start.binding,
        max_age=oidc.STATE_TTL_SECONDS,
        httponly=True,
        samesite="lax",
        secure=runtime.settings.public_url.startswith("https://"),
        path=f"/api/v1/auth/oidc/{configured.name}",
    )
    return response


@router.get(
    "/auth/oidc/{provider}/callback",
    response_model=TokenResponse,
    responses={**problem_responses(401, 404, 409, 422), 302: {"description": "To the app"}},
)
async def oidc_callback(
    provider: ProviderName,
    session: DbSession,
    runtime: AppRuntime,
    state: Annotated[str, Query(min_length=1, max_length=2048)],
    code: Annotated[str | None, Query(max_length=2048)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
    binding: Annotated[str | None, Cookie(alias=oidc.BINDING_COOKIE, max_length=200)] = None,
) -> TokenResponse | RedirectResponse:
    configured = oidc.provider_named(runtime, provider)
    if error is not None or code is None:
        raise Unauthorized("The identity provider did not sign you in.", code="oidc_denied")
    user, mfa = await oidc.complete(
        session, runtime, configured, code=code, state=state, binding=binding
    )
    return_url = runtime.settings.oidc_return_url
    if return_url:
        one_time = await oidc.issue_return_code(session, user, mfa)
        separator = "&" if "?" in return_url else "?"
        return RedirectResponse(f"{return_url}{separator}code={one_time}", status_code=302)
    return await service.start_session(session, runtime, user, method="oidc", mfa_passed=mfa)


@router.post("/auth/oidc/exchange", responses=problem_responses(401, 422))
async def oidc_exchange(
    body: OIDCExchangeRequest, session: DbSession, runtime: AppRuntime
) -> TokenResponse:
    """Trade the one-time code from EXCHANGE_OIDC_RETURN_URL for tokens."""
    return await oidc.redeem_return_code(session, runtime, body.code)
